// TrainingArguments: reading them from plugin parameters, checking them, and the step arithmetic
// (training length, warmup) that Hugging Face's Trainer derives from them.
#include "slimpipe/train/training_arguments.hpp"

#include <cmath>

namespace slimpipe::train {

std::int64_t TrainingArguments::steps_per_epoch(std::int64_t n) const {
  return (n + per_device_train_batch_size - 1) / per_device_train_batch_size;
}

std::int64_t TrainingArguments::num_training_steps(std::int64_t n) const {
  if (max_steps > 0) return max_steps;
  return static_cast<std::int64_t>(std::ceil(num_train_epochs * static_cast<double>(steps_per_epoch(n))));
}

std::int64_t TrainingArguments::num_warmup_steps(std::int64_t total) const {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(total) * warmup_ratio));
}

void TrainingArguments::validate(const std::string& where) const {
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };
  if (!(learning_rate >= 0)) fail("learning_rate must be >= 0, got " + std::to_string(learning_rate));
  if (max_steps <= 0 && !(num_train_epochs > 0))
    fail("num_train_epochs must be > 0 when max_steps is not set, got " + std::to_string(num_train_epochs));
  if (per_device_train_batch_size < 1) fail("per_device_train_batch_size must be >= 1");
  if (per_device_eval_batch_size < 1) fail("per_device_eval_batch_size must be >= 1");
  if (weight_decay < 0) fail("weight_decay must be >= 0");
  if (adam_beta1 < 0 || adam_beta1 >= 1) fail("adam_beta1 must be in [0, 1)");
  if (adam_beta2 < 0 || adam_beta2 >= 1) fail("adam_beta2 must be in [0, 1)");
  if (!(adam_epsilon > 0)) fail("adam_epsilon must be > 0");
  if (warmup_steps < 0) fail("warmup_steps must be >= 0");
  if (warmup_ratio < 0 || warmup_ratio > 1) fail("warmup_ratio must be in [0, 1]");
  if (lr_scheduler_type != "linear" && lr_scheduler_type != "cosine" && lr_scheduler_type != "constant" &&
      lr_scheduler_type != "constant_with_warmup")
    fail("lr_scheduler_type must be linear, cosine, constant or constant_with_warmup, got '" + lr_scheduler_type + "'");
}

TrainingArguments TrainingArguments::from_params(const Params& p, const std::string& where) {
  TrainingArguments a;
  a.learning_rate = p.get_float("learning_rate");
  a.num_train_epochs = p.get_float("num_train_epochs");
  a.max_steps = p.get_int("max_steps");
  a.per_device_train_batch_size = p.get_int("per_device_train_batch_size");
  a.per_device_eval_batch_size = p.get_int("per_device_eval_batch_size");
  a.weight_decay = p.get_float("weight_decay");
  a.adam_beta1 = p.get_float("adam_beta1");
  a.adam_beta2 = p.get_float("adam_beta2");
  a.adam_epsilon = p.get_float("adam_epsilon");
  a.max_grad_norm = p.get_float("max_grad_norm");
  a.lr_scheduler_type = p.get_string("lr_scheduler_type");
  a.warmup_steps = p.get_int("warmup_steps");
  a.warmup_ratio = p.get_float("warmup_ratio");
  a.logging_steps = p.get_int("logging_steps");
  a.save_steps = p.get_int("save_steps");
  a.seed = p.get_int("seed");
  a.validate(where);
  return a;
}

Json TrainingArguments::to_json() const {
  return Json{{"learning_rate", learning_rate},
              {"num_train_epochs", num_train_epochs},
              {"max_steps", max_steps},
              {"per_device_train_batch_size", per_device_train_batch_size},
              {"per_device_eval_batch_size", per_device_eval_batch_size},
              {"weight_decay", weight_decay},
              {"adam_beta1", adam_beta1},
              {"adam_beta2", adam_beta2},
              {"adam_epsilon", adam_epsilon},
              {"max_grad_norm", max_grad_norm},
              {"lr_scheduler_type", lr_scheduler_type},
              {"warmup_steps", warmup_steps},
              {"warmup_ratio", warmup_ratio},
              {"logging_steps", logging_steps},
              {"save_steps", save_steps},
              {"seed", seed}};
}

Schema& add_training_arguments(Schema& s, const TrainingArguments& d) {
  using T = ParamType;
  return s.param("learning_rate", T::Float, d.learning_rate, "peak AdamW learning rate")
      .param("num_train_epochs", T::Float, d.num_train_epochs, "epochs over the train split (fractions allowed)")
      .param("max_steps", T::Int, d.max_steps, "optimizer steps; > 0 overrides num_train_epochs, -1 = use epochs")
      .param("per_device_train_batch_size", T::Int, d.per_device_train_batch_size, "training batch size")
      .param("per_device_eval_batch_size", T::Int, d.per_device_eval_batch_size, "evaluation batch size")
      .param("weight_decay", T::Float, d.weight_decay,
             "decoupled AdamW weight decay; never applied to biases and LayerNorm weights")
      .param("adam_beta1", T::Float, d.adam_beta1, "AdamW beta1")
      .param("adam_beta2", T::Float, d.adam_beta2, "AdamW beta2")
      .param("adam_epsilon", T::Float, d.adam_epsilon, "AdamW epsilon")
      .param("max_grad_norm", T::Float, d.max_grad_norm, "clip gradients to this global L2 norm; <= 0 disables")
      .param("lr_scheduler_type", T::String, d.lr_scheduler_type, "learning-rate schedule after warmup",
             Json::array({"linear", "cosine", "constant", "constant_with_warmup"}))
      .param("warmup_steps", T::Int, d.warmup_steps, "linear warmup steps; > 0 wins over warmup_ratio")
      .param("warmup_ratio", T::Float, d.warmup_ratio, "warmup as a fraction of the training steps (rounded up)")
      .param("logging_steps", T::Int, d.logging_steps, "log loss, lr and it/s every this many steps")
      .param("save_steps", T::Int, d.save_steps,
             "evaluate every this many steps and keep the best state (and at the end)")
      .param("seed", T::Int, d.seed, "seed for initialisation, dropout and shuffling");
}

}  // namespace slimpipe::train
