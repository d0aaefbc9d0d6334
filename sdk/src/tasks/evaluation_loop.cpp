// Batched, gradient-free forward passes over a FeatureSet, the common part of every evaluate().
// The previous mode is restored (not forced to train) so an evaluation inside eval-mode code is harmless.
#include "slimpipe/tasks/evaluation_loop.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::tasks {
namespace {

c10::Device model_device(nn::TaskModelImpl& model) {
  for (const auto& p : model.parameters()) return p.device();
  return c10::Device(c10::kCPU);
}

// Puts the model back in its previous mode even when a forward or the consumer throws.
class ModeRestorer {
 public:
  explicit ModeRestorer(nn::TaskModelImpl& model) : model_(model), was_training_(model.is_training()) {}
  ~ModeRestorer() { model_.train(was_training_); }

 private:
  nn::TaskModelImpl& model_;
  bool was_training_;
};

}  // namespace

void run_evaluation(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size, const nn::SiteHook& hook,
                    const EvaluationConsumer& consume) {
  if (batch_size < 1) throw Error("evaluate: batch_size must be at least 1, got " + std::to_string(batch_size));
  ModeRestorer restore(model);
  model.eval();
  torch::NoGradGuard no_grad;
  const c10::Device device = model_device(model);
  const std::int64_t n = data.size();
  std::vector<std::int64_t> indices;
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t end = std::min(n, begin + batch_size);
    indices.clear();
    for (std::int64_t i = begin; i < end; ++i) indices.push_back(i);
    const Batch batch = data.collate(indices);
    const nn::EncoderOutput output =
        device.is_cpu() ? model.forward(batch.inputs, hook) : model.forward(batch.to(device).inputs, hook);
    consume(batch, output);
  }
}

}  // namespace slimpipe::tasks
