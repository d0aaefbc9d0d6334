// Learning-rate schedules as multipliers of the peak rate, step for step the lambdas of Hugging Face's
// get_{linear,cosine,constant}_schedule_with_warmup (a LambdaLR). Torch-free so it costs nothing to include.
#pragma once

#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe::train {

class SLIMPIPE_API LrSchedule {
 public:
  // `type`: linear | cosine | constant | constant_with_warmup; throws Error for others.
  // "constant" ignores warmup, as HF's get_constant_schedule does.
  LrSchedule(std::string type, std::int64_t num_warmup_steps, std::int64_t num_training_steps);

  // Multiplier for optimizer step `step` (0-based): LambdaLR applies lambda(0) at construction and
  // lambda(k) after the k-th scheduler.step(), so the k-th update (0-based) uses lambda(k).
  double multiplier(std::int64_t step) const;

  const std::string& type() const { return type_; }
  std::int64_t num_warmup_steps() const { return warmup_; }
  std::int64_t num_training_steps() const { return total_; }

 private:
  std::string type_;
  std::int64_t warmup_;
  std::int64_t total_;
};

}  // namespace slimpipe::train
