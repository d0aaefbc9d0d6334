// Helpers for the pruning tests: the tiny BERT (tests/common/tiny_bert.hpp) sized for them, a labelled feature set
// for sequence or token classification, a seq_cls / token_cls test task, and a scratch folder.
#pragma once

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"
#include "train/train_test_support.hpp"

namespace slimpipe::pruning_test {

using tiny_bert::max_abs_diff;
using tiny_bert::random_model;
using train_test::TestContext;

// The tiny BERT over 40 ids and 32 positions, with `layers` layers of `heads` heads.
inline nn::EncoderConfig tiny_config(std::int64_t layers = 2, std::int64_t heads = 4) {
  nn::EncoderConfig c = tiny_bert::config();
  c.vocab_size = 40;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.max_position_embeddings = 32;
  return c;
}

// Random ids with per-row padding (the last rows end in [PAD]s), labels per sequence or per token.
class LabelledFeatures final : public FeatureSet {
 public:
  LabelledFeatures(std::int64_t n, std::int64_t seq, std::int64_t vocab, std::int64_t num_labels, bool per_token,
                   std::uint64_t seed) {
    torch::manual_seed(seed);
    ids_ = torch::randint(3, vocab, {n, seq}, torch::kLong);
    mask_ = torch::ones({n, seq}, torch::kLong);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t pad = i % 3;  // 0, 1 or 2 padding positions
      if (pad > 0) {
        ids_[i].narrow(0, seq - pad, pad).fill_(0);
        mask_[i].narrow(0, seq - pad, pad).fill_(0);
      }
    }
    labels_ = per_token ? torch::randint(0, num_labels, {n, seq}, torch::kLong).masked_fill(mask_.eq(0), -100)
                        : torch::randint(0, num_labels, {n}, torch::kLong);
  }
  std::int64_t size() const override { return ids_.size(0); }
  Batch collate(const std::vector<std::int64_t>& indices) const override {
    auto index = torch::tensor(indices, torch::kLong);
    Batch b;
    b.inputs.input_ids = ids_.index_select(0, index);
    b.inputs.attention_mask = mask_.index_select(0, index);
    b.targets["labels"] = labels_.index_select(0, index);
    b.features = indices;
    return b;
  }

 private:
  at::Tensor ids_, mask_, labels_;
};

// Cross-entropy loss (token_cls: ignore_index -100) and accuracy, on LabelledFeatures.
class LabelTask final : public Task {
 public:
  explicit LabelTask(nn::TaskHead head) : head_(head) {}
  void configure(const Params&) override {}
  HeadSpec head() const override { return {head_, 3, {"a", "b", "c"}}; }
  std::shared_ptr<const FeatureSet> features(const std::string& split, const text::WordPieceTokenizer&,
                                             std::int64_t) override {
    return split == "train" ? train : eval;
  }
  at::Tensor loss(const nn::EncoderOutput& out, const Batch& b) const override {
    const auto& labels = b.targets.at("labels");
    return torch::nn::functional::cross_entropy(out.logits.reshape({-1, out.logits.size(-1)}), labels.reshape({-1}));
  }
  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                   const nn::SiteHook& hook = {}) const override {
    torch::NoGradGuard no_grad;
    model.eval();
    std::int64_t correct = 0, total = 0;
    for (std::int64_t s = 0; s < data.size(); s += batch_size) {
      std::vector<std::int64_t> idx;
      for (std::int64_t i = s; i < std::min(data.size(), s + batch_size); ++i) idx.push_back(i);
      Batch b = data.collate(idx);
      const auto& labels = b.targets.at("labels");
      auto pred = model.forward(b.inputs, hook).logits.argmax(-1);
      correct += (pred.eq(labels) & labels.ne(-100)).sum().item<std::int64_t>();
      total += labels.ne(-100).sum().item<std::int64_t>();
    }
    Metrics m;
    m.primary = "accuracy";
    m.value = 100.0 * static_cast<double>(correct) / static_cast<double>(total);
    m.all["accuracy"] = m.value;
    return m;
  }

  std::shared_ptr<const FeatureSet> train, eval;

 private:
  nn::TaskHead head_;
};

// A fresh directory for one test, removed first if a previous run left it.
inline std::filesystem::path scratch_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / ("slimpipe_pruning_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace slimpipe::pruning_test
