// The loop under every task's evaluate(): batches in order, eval mode, no gradients, the site
// hook on every forward, and the model's previous train/eval mode restored afterwards.
#pragma once

#include <cstdint>
#include <functional>

#include "slimpipe/export.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::tasks {

// Called once per batch: the batch as collated (on the CPU) and the model's output (on the
// model's device).
using EvaluationConsumer = std::function<void(const Batch& batch, const nn::EncoderOutput& output)>;

// Runs `model` over features 0..size-1 of `data` in batches of `batch_size` (on the device of the
// model's parameters). Throws Error when batch_size < 1.
SLIMPIPE_API void run_evaluation(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                                 const nn::SiteHook& hook, const EvaluationConsumer& consume);

}  // namespace slimpipe::tasks
