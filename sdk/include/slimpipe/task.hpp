// The Task interface: what a task plugin (seq_cls, token_cls, qa, or a third party's) provides:
// its data as features for a given tokenizer, its head, its loss and its metric. A custom model
// head or metric is a new task plugin (the C++ form of PaddleNLP's custom_evaluate and
// custom_dynabert_calc_loss).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/hooks.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe {

namespace text {
class WordPieceTokenizer;
}

// A batch of features ready for TaskModel::forward, with its training targets.
struct SLIMPIPE_API Batch {
  nn::EncoderInputs inputs;
  // seq_cls: "labels" [b]; token_cls: "labels" [b, s] with -100 where ignored;
  // qa: "start_positions", "end_positions" [b]. Tasks may add their own.
  std::map<std::string, at::Tensor> targets;
  std::vector<std::int64_t> features;  // indices of these features in their FeatureSet

  std::int64_t size() const { return static_cast<std::int64_t>(features.size()); }
  Batch to(const c10::Device& device) const;
};

// One split of a task's data, tokenized for one model. Immutable once built, so instances
// running in parallel may share it.
class SLIMPIPE_API FeatureSet {
 public:
  virtual ~FeatureSet();
  virtual std::int64_t size() const = 0;
  // Collates the given features (padding to the longest in the batch).
  virtual Batch collate(const std::vector<std::int64_t>& indices) const = 0;
  // Number of examples behind the features (QA: several features per long context).
  virtual std::int64_t num_examples() const { return size(); }
};

// A task's score: one primary figure (higher is better, as a percentage where that is the
// convention: accuracy, F1, EM), plus every other figure the task computes.
struct SLIMPIPE_API Metrics {
  std::string primary;  // "accuracy", "f1", ...
  double value = 0;
  Json all = Json::object();  // includes the primary
  Json to_json() const;
};

// What head a task needs on the encoder.
struct SLIMPIPE_API HeadSpec {
  nn::TaskHead head = nn::TaskHead::SequenceClassification;
  std::int64_t num_labels = 2;      // QA: 2 (start, end)
  std::vector<std::string> labels;  // id -> name, written to config.json id2label
};

class SLIMPIPE_API Task {
 public:
  virtual ~Task();

  // Called once, from the [task] table (schema defaults applied, paths resolved). Throws Error
  // for bad parameters or unreadable data.
  virtual void configure(const Params& params) = 0;

  virtual HeadSpec head() const = 0;

  // Words for the vocabulary of a model created from scratch on this task's data (synthetic
  // sources); empty when the model must bring its own vocab.txt.
  virtual std::vector<std::string> vocabulary() const { return {}; }

  // The split ("train", "eval"; "calibration" is an alias of "eval" unless the task has its own)
  // tokenized with `tokenizer`. May be cached; safe to call from several threads.
  virtual std::shared_ptr<const FeatureSet> features(const std::string& split,
                                                     const text::WordPieceTokenizer& tokenizer,
                                                     std::int64_t max_seq_length) = 0;

  // Training loss of a batch (mean over the batch); differentiable.
  virtual at::Tensor loss(const nn::EncoderOutput& output, const Batch& batch) const = 0;

  // Scores `model` on `data`, in eval mode without gradients, passing `hook` to every forward
  // (fake quantization uses it).
  virtual Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                           const nn::SiteHook& hook = {}) const = 0;
};

// For hosts that must not include LibTorch headers: configure through the SDK library.
SLIMPIPE_API void configure_task(Task& task, const Params& params);

}  // namespace slimpipe
