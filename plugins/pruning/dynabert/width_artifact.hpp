// Writing one width's artifact: the pruned model as an HF folder (+ TorchScript, ONNX, runtime/), metrics.json
// and the manifest figures relative to the input model.
#pragma once

#include <cstdint>

#include "slimpipe/artifact.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/pruning/width_distillation.hpp"

namespace slimpipe::dynabert {

struct InputModelFigures {
  std::int64_t param_count = 0;
  double flops_per_token = 0;
  Metrics metrics;  // the input model on the eval split
};

struct ExportOptions {
  io::SaveOptions save;      // tokenizer files of the input model
  bool torchscript = false;  // model.pt
  bool onnx = false;         // model.onnx
  bool runtime = false;      // runtime/ (slimpipe_runtime fp32, docs/runtime.md)
  Json input_model;          // {id, dir} of the input model, for rank's speed baseline
  std::int64_t flops_seq_length = 128;
};

void write_width_artifact(OutputArtifact& out, const pruning::WidthOutcome& outcome, const Metrics& naive_slice,
                          const InputModelFigures& input, const ExportOptions& options, const Json& training);

}  // namespace slimpipe::dynabert
