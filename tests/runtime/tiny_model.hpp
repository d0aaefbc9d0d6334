// Small runtime models written without LibTorch (random fp32 weights in the runtime format, docs/runtime.md), for
// the tests that the runtime-only build runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slimpipe_runtime::testing {

struct TinyModel {
  std::string head = "seq_cls";  // seq_cls | token_cls | qa
  std::int64_t vocab_size = 40, hidden = 16, heads = 2, layers = 1, intermediate = 32, num_labels = 3;
  std::int64_t max_position_embeddings = 64;
  std::uint64_t seed = 7;
  // Heads per layer, as a pruned model has them (0: every head pruned); empty: `heads` in every layer. head_dim
  // stays hidden / heads. When given, each layer's Q, K and V come from a random stream of their own, so the other
  // weights are the same whatever the counts.
  std::vector<std::int64_t> layer_heads;
  // A layer whose attention.output.dense weight is all zeros (-1: none): its attention adds only the output bias,
  // as that of a layer without heads does.
  std::int64_t zero_attention_output_layer = -1;
  // An INT8 export: every Linear as i8 levels with per-channel thresholds and an input threshold, and every
  // layer's Q·Kᵀ and P·V operand thresholds (quant.sites).
  bool int8 = false;
};

// Writes dir/runtime.json and dir/weights.bin (dir is created).
void write_tiny_model(const std::filesystem::path& dir, const TinyModel& m = {});

// What a hand-written package holds beside the model (docs/runtime.md, "Package").
struct TinyPackage {
  std::vector<std::string> vocab;   // vocab.txt (at most TinyModel::vocab_size entries)
  std::vector<std::string> labels;  // empty: label0, label1, ... (none for qa)
  std::int64_t max_seq_length = 32, doc_stride = 8, max_query_length = 6;  // the last two for qa
};

// The model, its tokenizer (vocab.txt, default tokenizer_config.json) and package.json listing every file with its
// size and SHA-1. Returns package.json's content.
nlohmann::json write_tiny_package(const std::filesystem::path& dir, const TinyModel& m, const TinyPackage& p);

// A fresh empty folder under <build>/tests/runtime_tmp/torch_free.
std::filesystem::path scratch_dir(const std::string& name);

// The whole file as bytes; writes bytes to a file.
std::string read_bytes(const std::filesystem::path& file);
void write_bytes(const std::filesystem::path& file, const std::string& bytes);

}  // namespace slimpipe_runtime::testing
