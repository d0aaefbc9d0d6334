// The schedule lambdas, transcribed from transformers/optimization.py so multipliers match to the
// last bit (same operation order, double precision as Python floats).
#include "slimpipe/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "slimpipe/error.hpp"

namespace slimpipe::train {

LrSchedule::LrSchedule(std::string type, std::int64_t num_warmup_steps, std::int64_t num_training_steps)
    : type_(std::move(type)), warmup_(num_warmup_steps), total_(num_training_steps) {
  if (type_ != "linear" && type_ != "cosine" && type_ != "constant" && type_ != "constant_with_warmup")
    throw Error("lr_scheduler_type: expected linear, cosine, constant or constant_with_warmup, got '" + type_ + "'");
  if (warmup_ < 0 || total_ < 0) throw Error("lr schedule: warmup and training steps must be >= 0");
}

double LrSchedule::multiplier(std::int64_t step) const {
  const double s = static_cast<double>(step);
  const double w = static_cast<double>(warmup_);
  const double t = static_cast<double>(total_);
  if (type_ == "constant") return 1.0;
  if (step < warmup_) return s / std::max(1.0, w);
  if (type_ == "constant_with_warmup") return 1.0;
  if (type_ == "linear") return std::max(0.0, (t - s) / std::max(1.0, t - w));
  // cosine with num_cycles = 0.5: half a cosine from 1 down to 0.
  const double progress = (s - w) / std::max(1.0, t - w);
  const double num_cycles = 0.5;
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * num_cycles * 2.0 * progress)));
}

}  // namespace slimpipe::train
