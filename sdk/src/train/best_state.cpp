// Best-state bookkeeping. Copies stay on the model's device: for the model sizes slimpipe trains,
// one extra copy is cheaper than a round trip through a checkpoint file.
#include "slimpipe/train/best_state.hpp"

#include <torch/types.h>

namespace slimpipe::train {

bool BestState::offer(const torch::nn::Module& module, const Metrics& metrics, std::int64_t step) {
  if (best_ && !(metrics.value > best_->value)) return false;
  torch::NoGradGuard no_grad;
  tensors_.clear();
  for (const auto& p : module.named_parameters(true)) tensors_[p.key()] = p.value().detach().clone();
  for (const auto& b : module.named_buffers(true)) tensors_[b.key()] = b.value().detach().clone();
  best_ = metrics;
  step_ = step;
  return true;
}

bool BestState::restore(torch::nn::Module& module) const {
  if (!best_) return false;
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters(true)) p.value().copy_(tensors_.at(p.key()));
  for (auto& b : module.named_buffers(true)) b.value().copy_(tensors_.at(b.key()));
  return true;
}

}  // namespace slimpipe::train
