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
