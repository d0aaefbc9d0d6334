// Small runtime models written without LibTorch (random fp32 weights in the runtime format, docs/runtime.md), for
// the tests that the runtime-only build runs.
#pragma once

#include <cstdint>
#include <filesystem>
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

// A fresh empty folder under <build>/tests/runtime_tmp/torch_free.
std::filesystem::path scratch_dir(const std::string& name);

// The whole file as bytes; writes bytes to a file.
std::string read_bytes(const std::filesystem::path& file);
void write_bytes(const std::filesystem::path& file, const std::string& bytes);

}  // namespace slimpipe_runtime::testing
