// Export of a TaskModel for slimpipe's own inference engine (runtime/): a folder with runtime.json (config,
// widths per layer, head, tensor table, int8 thresholds) and weights.bin (raw little-endian tensors).
// The format is documented in docs/runtime.md; the reader is runtime/src/model_file.cpp (no LibTorch).
#pragma once

#include <filesystem>

#include "slimpipe/export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"

namespace slimpipe::exporter {

// File names inside the exported folder.
inline constexpr const char* kRuntimeJson = "runtime.json";
inline constexpr const char* kRuntimeWeights = "weights.bin";
inline constexpr int kRuntimeFormatVersion = 1;

// fp32: every parameter as float32. Writes into `dir` (created if missing); a failed export leaves no
// runtime.json behind. Errors (slimpipe::Error) name the folder and what was expected. Only models with a
// task head (seq_cls, token_cls, qa) are exported.
SLIMPIPE_API void export_runtime(const nn::TaskModelImpl& model, const std::filesystem::path& dir);
// The same with the package's tokenizer folder, lengths or decoding options given (runtime_package.hpp; what is
// unset is found as documented there): finetune passes its own max_seq_length.
SLIMPIPE_API void export_runtime(const nn::TaskModelImpl& model, const std::filesystem::path& dir,
                                 const PackageSettings& package);

struct RuntimeExportOptions {
  // INT8 exports: store the word-embedding table (vocab x hidden, the largest tensor left in float) as IEEE
  // half precision ("f16"; relative rounding error <= 2^-11, far below the int8 activation error). false keeps
  // it f32. fp32 exports always write f32.
  bool f16_word_embeddings = true;
};

// INT8: the Linear sites listed in plan.weights are stored as int8 levels with their thresholds (per output
// channel or per tensor); the activation thresholds of the plan (Linear inputs, both operands of the qk and
// pv attention MatMuls) are stored by site. Anything the plan leaves out stays fp32. The plan must be 8-bit
// with onnx_format (range [-128, 127]), the runtime's integer kernels; others are refused.
SLIMPIPE_API void export_runtime(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan,
                                 const std::filesystem::path& dir, const RuntimeExportOptions& options = {});

}  // namespace slimpipe::exporter
