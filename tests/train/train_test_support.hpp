// Test doubles for the training tests: a Context that records log lines, and a tiny sequence task
// ("does token 5 appear before token 6?") small enough to learn in a few seconds.
#pragma once

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/context.hpp"
#include "slimpipe/data/random.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::train_test {

class NullProgress final : public Progress {
 public:
  void begin(const std::string&, std::int64_t total) override { this->total = total; }
  void update(std::int64_t done, const std::string& status) override { last_done = done, last_status = status; }
  void end() override {}
  std::int64_t total = 0, last_done = 0;
  std::string last_status;
};

class RecordingLogger final : public Logger {
 public:
  void log(LogLevel, const std::string& message) override { lines.push_back(message); }
  std::vector<std::string> lines;
};

class TestContext final : public Context {
 public:
  explicit TestContext(Task* task = nullptr, int threads = 1) : task_(task), threads_(threads) {}
  const std::string& instance_id() const override { return id_; }
  Logger& log() override { return logger; }
  Progress& progress() override { return progress_; }
  bool cancelled() const override { return cancel; }
  std::uint64_t seed() const override { return 42; }
  const std::string& device() const override { return device_; }
  int threads() const override { return threads_; }
  const fs::path& scratch_dir() const override { return scratch_; }
  bool has_task() const override { return task_ != nullptr; }
  Task& task() override { return *task_; }
  OutputArtifact& output(const std::string&) override { throw Error("TestContext has no outputs"); }

  RecordingLogger logger;
  NullProgress progress_;
  bool cancel = false;

 private:
  Task* task_;
  int threads_;
  std::string id_ = "test", device_ = "cpu";
  fs::path scratch_ = fs::temp_directory_path();
};

// Fixed-length id sequences with a label per sequence.
class TensorFeatures final : public FeatureSet {
 public:
  TensorFeatures(at::Tensor ids, at::Tensor labels) : ids_(std::move(ids)), labels_(std::move(labels)) {}
  std::int64_t size() const override { return ids_.size(0); }
  Batch collate(const std::vector<std::int64_t>& indices) const override {
    auto index = torch::tensor(indices, torch::kLong);
    Batch b;
    b.inputs.input_ids = ids_.index_select(0, index);
    b.inputs.attention_mask = torch::ones_like(b.inputs.input_ids);
    b.targets["labels"] = labels_.index_select(0, index);
    b.features = indices;
    return b;
  }

 private:
  at::Tensor ids_, labels_;
};

// Sequences of 8 ids from [3, 12): label 1 when 5 occurs before 6 (order matters, so attention is
// needed, yet a 1-layer model learns it quickly). Ids 0-2 play [PAD] [CLS] [SEP].
inline std::shared_ptr<FeatureSet> order_dataset(std::int64_t n, std::uint64_t seed) {
  data::SplitMix64 rng(seed);
  auto ids = torch::zeros({n, 8}, torch::kLong);
  auto labels = torch::zeros({n}, torch::kLong);
  auto a = ids.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < n; ++i) {
    a[i][0] = 1;
    std::int64_t first5 = -1, first6 = -1;
    for (std::int64_t j = 1; j < 8; ++j) {
      a[i][j] = 3 + static_cast<std::int64_t>(rng.below(9));
      if (a[i][j] == 5 && first5 < 0) first5 = j;
      if (a[i][j] == 6 && first6 < 0) first6 = j;
    }
    labels[i] = (first5 >= 0 && (first6 < 0 || first5 < first6)) ? 1 : 0;
  }
  return std::make_shared<TensorFeatures>(ids, labels);
}

class OrderTask : public Task {
 public:
  void configure(const Params&) override {}
  HeadSpec head() const override { return {nn::TaskHead::SequenceClassification, 2, {"no", "yes"}}; }
  std::shared_ptr<const FeatureSet> features(const std::string& split, const text::WordPieceTokenizer&,
                                             std::int64_t) override {
    return split == "train" ? train : eval;
  }
  at::Tensor loss(const nn::EncoderOutput& out, const Batch& b) const override {
    return torch::nn::functional::cross_entropy(out.logits, b.targets.at("labels"));
  }
  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                   const nn::SiteHook& hook = {}) const override {
    torch::NoGradGuard no_grad;
    model.eval();
    std::int64_t correct = 0;
    for (std::int64_t s = 0; s < data.size(); s += batch_size) {
      std::vector<std::int64_t> idx;
      for (std::int64_t i = s; i < std::min(data.size(), s + batch_size); ++i) idx.push_back(i);
      Batch b = data.collate(idx);
      auto pred = model.forward(b.inputs, hook).logits.argmax(-1);
      correct += pred.eq(b.targets.at("labels")).sum().item<std::int64_t>();
    }
    Metrics m;
    m.primary = "accuracy";
    m.value = static_cast<double>(correct) / static_cast<double>(data.size());
    m.all["accuracy"] = m.value;
    return m;
  }

  std::shared_ptr<const FeatureSet> train = order_dataset(256, 1), eval = order_dataset(128, 2);
};

// The tiny BERT (tests/common/tiny_bert.hpp) for OrderTask: 12 ids, 16 positions, 2 labels, `layers` layers of 2
// heads, dropout 0.1.
inline nn::EncoderConfig tiny_config(std::int64_t layers = 1) {
  nn::EncoderConfig c = tiny_bert::config();
  c.vocab_size = 12;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 2;
  c.max_position_embeddings = 16;
  c.hidden_dropout_prob = 0.1;
  c.attention_probs_dropout_prob = 0.1;
  c.num_labels = 2;
  return c;
}

}  // namespace slimpipe::train_test
