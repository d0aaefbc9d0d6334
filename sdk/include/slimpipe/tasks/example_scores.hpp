// Evaluation example by example, for statistics on the same examples across models: the paired bootstrap of a
// metric difference (metrics/bootstrap.hpp), prediction agreement and logit fidelity against an fp32 model
// (rank, docs/quantization.md). A task offers it by also deriving from ExampleScoring; callers find it with
// dynamic_cast, so tasks without it (third-party ones) keep working and simply get no intervals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/metrics/bootstrap.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::tasks {

struct SLIMPIPE_API ExampleEvaluation {
  Metrics metrics;                       // what Task::evaluate returns for the same call
  metrics::ExampleStats stats;           // per example; stats.value() == metrics.value
  std::vector<std::string> predictions;  // per example, the decoded prediction (label id, tag ids, answer text)
  // Every output logit on real positions (attention mask 1), in feature order: [b, labels] for sequence heads,
  // [b, s, labels] / start and end [b, s] at unpadded tokens otherwise. Same features, same layout across models.
  std::vector<float> outputs;
};

class SLIMPIPE_API ExampleScoring {
 public:
  virtual ~ExampleScoring();
  virtual ExampleEvaluation evaluate_examples(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                                              const nn::SiteHook& hook = {}) const = 0;
};

// Appends the batch's output logits at real positions to `outputs` (see ExampleEvaluation::outputs).
SLIMPIPE_API void append_outputs(const Batch& batch, const nn::EncoderOutput& output, std::vector<float>& outputs);

// The fraction (0..1) of examples whose predictions are equal; Error when the counts differ or are 0.
SLIMPIPE_API double prediction_agreement(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace slimpipe::tasks
