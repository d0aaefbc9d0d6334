// slimpipe_runtime: a small CPU inference engine for the models slimpipe exports with
// slimpipe::exporter::export_runtime (format: docs/runtime.md). Depends on oneDNN, OpenBLAS and the standard
// library only (nlohmann_json, header-only, parses runtime.json); it never links LibTorch.
//
//   auto model = slimpipe_runtime::Model::load("out/model-int8");
//   slimpipe_runtime::set_threads(2);
//   const auto& out = model.run(ids.data(), types.data(), mask.data(), batch, seq);
//   // out.logits: [batch, num_labels] (seq_cls), [batch, seq, num_labels] (token_cls);
//   // QA: out.start_logits / out.end_logits, [batch, seq] each.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "slimpipe_runtime/package.hpp"

namespace slimpipe_runtime {

// Every expected failure (missing or corrupt files, shape mismatches, bad inputs): one line naming the file
// or the argument and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Head { SequenceClassification, TokenClassification, QuestionAnswering };

// Which GEMMs run the Linear layers and the integer attention.
enum class Kernels {
  // The runtime's own (default): int8 on AVX-512 VNNI, AVX2 or portable C++; fp32 on AVX-512, else OpenBLAS;
  // integer attention on AVX-512 VNNI. A steady-state run allocates nothing.
  Own,
  // oneDNN matmuls, as before version 1.2 of the runtime (for comparison): oneDNN 2.6 allocates a few small
  // blocks on every primitive execution.
  OneDnn,
};

struct Options {
  Kernels kernels = Kernels::Own;
  // Own kernels: "auto" (the CPU's best) or a lower instruction set to use instead: "avx2" or "portable" for the
  // integer GEMMs (and OpenBLAS for fp32 below AVX-512 VNNI); for tests and comparisons.
  std::string isa = "auto";
  // OneDnn kernels: fp32 Linear layers run through oneDNN when the GEMM has at least this many rows
  // (batch * seq), else through OpenBLAS; 2^40 or more: always OpenBLAS. The default (-1) decides per layer at
  // load: oneDNN when it has brgemm kernels for this CPU and shape (AVX-512 and newer), OpenBLAS otherwise.
  std::int64_t onednn_fp32_min_rows = -1;
  // A folder with a package.json: check every file's size and SHA-1 at load (false: only package.json's fields).
  bool verify_package = true;
};

struct ModelInfo {
  std::string precision;   // "fp32" | "int8"
  std::string model_type;  // "bert" | "ernie"
  Head head = Head::SequenceClassification;
  std::string hidden_act;
  std::int64_t num_layers = 0, hidden_size = 0, head_dim = 0, num_labels = 0, vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  std::vector<std::int64_t> heads, intermediate_sizes;  // per layer
  std::int64_t int8_linears = 0, fp32_linears = 0;      // GEMMs after QKV fusion (none for a pruned-away one)
  std::int64_t onednn_linears = 0;                      // of those, the ones oneDNN runs (Kernels::OneDnn)
  std::int64_t own_linears = 0;                         // ... the ones the runtime's own kernels run
  std::string kernels;                                  // e.g. "own: int8 avx512_vnni, fp32 avx512" or "onednn"
  std::int64_t int8_attention_layers = 0;               // layers whose Q·Kᵀ and P·V run as integer matmuls
  std::uint64_t file_bytes = 0;                         // runtime.json + weights.bin
};

// Views into the model's workspace, valid until the next run() or the model's destruction.
struct Output {
  const float* logits = nullptr;        // seq_cls [b, labels]; token_cls [b, s, labels]; null for QA
  const float* start_logits = nullptr;  // QA: [b, s]
  const float* end_logits = nullptr;    // QA: [b, s]
  std::int64_t batch = 0, seq = 0, num_labels = 0;
  std::int64_t logits_size() const;  // elements of `logits`
};

class Model {
 public:
  // Reads dir/runtime.json and maps dir/weights.bin; weights are packed for the GEMM kernels once, here. A folder
  // that holds a package.json is checked first (read_package: format version, every file's size and SHA-1), and
  // its task and label count must agree with runtime.json.
  static Model load(const std::filesystem::path& dir, const Options& options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // input_ids, token_type_ids and attention_mask are [batch, seq] row-major; token_type_ids null = zeros,
  // attention_mask null = all ones (1 = token, 0 = padding). Buffers grow to the largest shape seen and are
  // reused: once every shape has been seen, a call allocates nothing of its own.
  const Output& run(const std::int64_t* input_ids, const std::int64_t* token_type_ids,
                    const std::int64_t* attention_mask, std::int64_t batch, std::int64_t seq);
  const Output& run(const std::vector<std::int64_t>& input_ids, const std::vector<std::int64_t>& token_type_ids,
                    const std::vector<std::int64_t>& attention_mask, std::int64_t batch, std::int64_t seq);

  const ModelInfo& info() const;
  // The package the model was loaded from; null for a folder without package.json (a bare runtime export).
  const PackageInfo* package() const;
  // Bytes held by the workspace (activations), for reports.
  std::uint64_t workspace_bytes() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Threads of every kernel: oneDNN and the runtime's own loops (OpenMP) and OpenBLAS. n >= 1.
void set_threads(int n);
int threads();

const char* to_string(Head head);

// The instruction set oneDNN dispatches to on this CPU, e.g. "avx512_core_vnni", "avx2".
std::string cpu_isa();

}  // namespace slimpipe_runtime
