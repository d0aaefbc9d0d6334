// Helpers for the task plugin tests: loading a task through the plugin registry, configuring it
// the way the host does (schema defaults applied), hand-made vocabularies and tiny models.
#pragma once

#include <ATen/ATen.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace tasktest {

namespace fs = std::filesystem;

inline const slimpipe::core::PluginRegistry& registry() {
  static const slimpipe::core::PluginRegistry r = [] {
    slimpipe::core::PluginRegistry reg;
    reg.scan({fs::path(SLIMPIPE_BINARY_DIR) / "lib" / "slimpipe" / "plugins"});
    return reg;
  }();
  return r;
}

// A task plugin by name, configured from `params` over its schema's defaults.
inline std::shared_ptr<slimpipe::Task> make_task(const std::string& name, const slimpipe::Json& params) {
  const slimpipe::core::PluginInfo* info = registry().find(name);
  if (!info) throw std::runtime_error("plugin " + name + " not found in " SLIMPIPE_BINARY_DIR "/lib/slimpipe/plugins");
  auto task = slimpipe::core::PluginRegistry::create_task(*info);
  slimpipe::configure_task(*task, slimpipe::resolve_params(info->schema, params, "[task]"));
  return task;
}

// A fresh folder under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(fs::temp_directory_path() / ("slimpipe-tasks-" + tag + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline slimpipe::text::WordPieceTokenizer synthetic_tokenizer() {
  return slimpipe::text::WordPieceTokenizer(slimpipe::data::synthetic_vocabulary());
}

// Specials, then `tokens` (ids 5, 6, ...).
inline slimpipe::text::WordPieceTokenizer hand_tokenizer(const std::vector<std::string>& tokens) {
  std::vector<std::string> vocab{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  vocab.insert(vocab.end(), tokens.begin(), tokens.end());
  return slimpipe::text::WordPieceTokenizer(vocab);
}

// The tiny BERT (tests/common/tiny_bert.hpp) for `head` over `vocab_size` ids, with the model's own initial
// weights after seeding.
inline slimpipe::nn::TaskModel tiny_model(const slimpipe::HeadSpec& head, std::int64_t vocab_size,
                                          std::int64_t max_positions = 160) {
  slimpipe::nn::EncoderConfig c = slimpipe::tiny_bert::config();
  c.vocab_size = vocab_size;
  c.max_position_embeddings = max_positions;
  c.num_labels = head.num_labels;
  at::manual_seed(3);
  return slimpipe::nn::TaskModel(c, head.head);
}

// All features of a set in one batch.
inline slimpipe::Batch collate_all(const slimpipe::FeatureSet& set) {
  std::vector<std::int64_t> all;
  for (std::int64_t i = 0; i < set.size(); ++i) all.push_back(i);
  return set.collate(all);
}

inline std::vector<std::int64_t> row(const at::Tensor& t, std::int64_t r) {
  const at::Tensor x = t[r].contiguous().to(at::kLong);
  return std::vector<std::int64_t>(x.data_ptr<std::int64_t>(), x.data_ptr<std::int64_t>() + x.numel());
}

// The message of the slimpipe::Error that `f` throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const slimpipe::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tasktest
