// TrainingArguments: the optimisation settings every training plugin shares, with the names and
// defaults of Hugging Face / PaddleNLP TrainingArguments, plus their parameter-schema block.
#pragma once

#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::train {

struct SLIMPIPE_API TrainingArguments {
  double learning_rate = 5e-5;
  double num_train_epochs = 3.0;  // fractional epochs allowed, as in HF
  std::int64_t max_steps = -1;    // > 0 overrides num_train_epochs
  std::int64_t per_device_train_batch_size = 8;
  std::int64_t per_device_eval_batch_size = 8;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;                // <= 0: no clipping
  std::string lr_scheduler_type = "linear";  // linear | cosine | constant | constant_with_warmup
  std::int64_t warmup_steps = 0;             // > 0 wins over warmup_ratio
  double warmup_ratio = 0.0;
  std::int64_t logging_steps = 500;  // <= 0: log only at the end
  std::int64_t save_steps = 500;     // evaluate (and keep the best state) every save_steps; <= 0: only at the end
  std::int64_t seed = 42;

  // Optimizer steps for `num_train_examples` examples: max_steps when > 0, else
  // ceil(num_train_epochs * ceil(examples / batch)) (HF: the last partial batch is a step).
  std::int64_t num_training_steps(std::int64_t num_train_examples) const;
  std::int64_t steps_per_epoch(std::int64_t num_train_examples) const;
  // HF get_warmup_steps: warmup_steps if > 0, else ceil(num_training_steps * warmup_ratio).
  std::int64_t num_warmup_steps(std::int64_t num_training_steps) const;

  // Throws Error naming `where` and the parameter for out-of-range values.
  void validate(const std::string& where = "training arguments") const;

  // Reads every field above from resolved parameters (names as above) and validates them.
  static TrainingArguments from_params(const Params& params, const std::string& where = "training arguments");
  Json to_json() const;
};

// Adds the TrainingArguments block to a plugin schema. `defaults` lets a plugin change defaults
// (DynaBERT: logging_steps = save_steps = 100, warmup_ratio = 0.1) while keeping the names.
SLIMPIPE_API Schema& add_training_arguments(Schema& schema, const TrainingArguments& defaults = {});

}  // namespace slimpipe::train
