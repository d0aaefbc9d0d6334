// AdamW parameter grouping, clipping and the scheduled update. The learning rate is written into
// both groups before each update, which is what LambdaLR does with base_lr * lambda(step).
#include "slimpipe/train/optimizer.hpp"

#include <torch/nn/utils/clip_grad.h>

namespace slimpipe::train {

bool excluded_from_weight_decay(const std::string& name) {
  return name.find("bias") != std::string::npos || name.find("LayerNorm.weight") != std::string::npos;
}

ParameterGroups group_parameters(const torch::nn::Module& module) {
  ParameterGroups g;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    if (excluded_from_weight_decay(item.key())) {
      g.no_decay_names.push_back(item.key());
      g.no_decay.push_back(item.value());
    } else {
      g.decay_names.push_back(item.key());
      g.decay.push_back(item.value());
    }
  }
  return g;
}

double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  return torch::nn::utils::clip_grad_norm_(parameters, max_norm, 2.0);
}

TrainingOptimizer::TrainingOptimizer(const torch::nn::Module& module, const TrainingArguments& args,
                                     std::int64_t num_training_steps)
    : args_(args),
      schedule_(args.lr_scheduler_type, args.num_warmup_steps(num_training_steps), num_training_steps),
      groups_(group_parameters(module)) {
  auto options = [&](double decay) {
    return torch::optim::AdamWOptions(args.learning_rate)
        .betas({args.adam_beta1, args.adam_beta2})
        .eps(args.adam_epsilon)
        .weight_decay(decay);
  };
  // Both groups are always present (possibly empty) so group 0 / 1 mean the same thing everywhere.
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  param_groups.emplace_back(groups_.decay, std::make_unique<torch::optim::AdamWOptions>(options(args.weight_decay)));
  param_groups.emplace_back(groups_.no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(param_groups), options(args.weight_decay));
  all_ = groups_.decay;
  all_.insert(all_.end(), groups_.no_decay.begin(), groups_.no_decay.end());
  set_learning_rate(learning_rate());
}

void TrainingOptimizer::zero_grad() { optimizer_->zero_grad(); }

double TrainingOptimizer::learning_rate() const { return args_.learning_rate * schedule_.multiplier(step_); }

void TrainingOptimizer::set_learning_rate(double lr) {
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

double TrainingOptimizer::apply() {
  double norm = 0;
  if (args_.max_grad_norm > 0) norm = clip_grad_norm(all_, args_.max_grad_norm);
  set_learning_rate(learning_rate());
  optimizer_->step();
  ++step_;
  return norm;
}

}  // namespace slimpipe::train
