// The update half of a training step: AdamW over two parameter groups (no weight decay on biases and
// LayerNorm weights), the learning-rate schedule and global-norm gradient clipping.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/train/lr_schedule.hpp"
#include "slimpipe/train/training_arguments.hpp"

namespace slimpipe::train {

// HF Trainer's no_decay = ["bias", "LayerNorm.weight"]: a parameter whose name contains one of
// these is trained without weight decay.
SLIMPIPE_API bool excluded_from_weight_decay(const std::string& parameter_name);

struct SLIMPIPE_API ParameterGroups {
  std::vector<std::string> decay_names, no_decay_names;
  std::vector<at::Tensor> decay, no_decay;
};
// Trainable parameters of `module` (requires_grad), split by excluded_from_weight_decay.
SLIMPIPE_API ParameterGroups group_parameters(const torch::nn::Module& module);

// Clips the gradients of `parameters` so their global L2 norm is at most `max_norm`
// (torch::nn::utils::clip_grad_norm_); returns the norm before clipping.
SLIMPIPE_API double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm);

// AdamW + schedule + clipping for one model. A training loop calls zero_grad(), backward() on its
// loss(es), then apply(). DynaBERT-style loops that backpropagate several losses per step use the
// same sequence.
class SLIMPIPE_API TrainingOptimizer {
 public:
  // Takes the parameters of `module` as they are now; build it after moving the model to its device.
  TrainingOptimizer(const torch::nn::Module& module, const TrainingArguments& args, std::int64_t num_training_steps);

  void zero_grad();
  // Clips (when max_grad_norm > 0), runs AdamW at the current learning rate, then advances the
  // schedule. Returns the global gradient norm before clipping (0 when clipping is off).
  double apply();

  std::int64_t step() const { return step_; }  // updates applied so far
  double learning_rate() const;                // rate the next apply() will use
  const LrSchedule& schedule() const { return schedule_; }
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  const ParameterGroups& groups() const { return groups_; }
  const std::vector<at::Tensor>& parameters() const { return all_; }  // both groups: what apply() clips and steps

 private:
  void set_learning_rate(double lr);

  TrainingArguments args_;
  LrSchedule schedule_;
  ParameterGroups groups_;
  std::vector<at::Tensor> all_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::int64_t step_ = 0;
};

}  // namespace slimpipe::train
