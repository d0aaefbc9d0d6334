// The fine-tuning loop. Logging follows HF Trainer: the logged loss is the mean over the steps since
// the previous log, the logged learning rate the one the logged step used.
#include "slimpipe/train/trainer.hpp"

#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>

namespace slimpipe::train {

namespace {

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string metrics_text(const Metrics& m) {
  std::string s;
  for (const auto& [k, v] : m.all.items()) {
    if (!v.is_number()) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s=%.4f", s.empty() ? "" : " ", k.c_str(), v.get<double>());
    s += buf;
  }
  return s.empty() ? format("%s=%.4f", m.primary.c_str(), m.value) : s;
}

}  // namespace

Json TrainingResult::to_json() const {
  Json j{{"steps", steps},
         {"epochs", epochs},
         {"train_loss", train_loss},
         {"seconds", seconds},
         {"log_history", log_history}};
  if (best) {
    j["best_step"] = best_step;
    j["best_metrics"] = best->to_json();
  }
  return j;
}

Trainer::Trainer(nn::TaskModel model, Task& task, TrainingArguments args, Context& ctx)
    : model_(std::move(model)), task_(task), args_(std::move(args)), ctx_(ctx), device_(ctx.device()) {
  args_.validate();
  model_->to(device_);
}

void Trainer::set_train_data(std::shared_ptr<const FeatureSet> train) {
  train_ = std::move(train);
  optimizer_.reset();
  order_.reset();
}

void Trainer::set_eval_data(std::shared_ptr<const FeatureSet> eval) { eval_ = std::move(eval); }

std::int64_t Trainer::num_training_steps() const {
  if (!train_) throw Error("Trainer: set_train_data() must come before training");
  return args_.num_training_steps(train_->size());
}

TrainingOptimizer& Trainer::optimizer() {
  if (!optimizer_) optimizer_ = std::make_unique<TrainingOptimizer>(*model_, args_, num_training_steps());
  return *optimizer_;
}

EpochOrder& Trainer::epoch_order() {
  if (!order_) {
    if (!train_) throw Error("Trainer: set_train_data() must come before training");
    // Shuffling has its own generator (not LibTorch's), so it is unaffected by dropout draws.
    order_ = std::make_unique<EpochOrder>(train_->size(), args_.per_device_train_batch_size,
                                          static_cast<std::uint64_t>(args_.seed));
  }
  return *order_;
}

double Trainer::training_step(const Batch& batch) {
  auto& opt = optimizer();
  model_->train();
  opt.zero_grad();
  const Batch on_device = batch.to(device_);
  at::Tensor loss = task_.loss(model_->forward(on_device.inputs), on_device);
  loss.backward();
  opt.apply();
  return loss.item<double>();
}

Metrics Trainer::evaluate() {
  if (!eval_) throw Error("Trainer: no eval split to evaluate on");
  Metrics m = task_.evaluate(*model_, *eval_, args_.per_device_eval_batch_size);
  model_->train();
  return m;
}

TrainingResult Trainer::train() {
  using clock = std::chrono::steady_clock;
  if (ctx_.threads() > 0) at::set_num_threads(ctx_.threads());
  torch::manual_seed(static_cast<std::uint64_t>(args_.seed));
  const std::int64_t total = num_training_steps();
  const std::int64_t per_epoch = args_.steps_per_epoch(train_->size());
  auto& opt = optimizer();
  auto& order = epoch_order();
  BestState best;
  TrainingResult result;
  auto& log = ctx_.log();

  log.info("training: " + std::to_string(train_->size()) + " features, " + std::to_string(total) + " steps (" +
           std::to_string(per_epoch) + " per epoch), batch " + std::to_string(args_.per_device_train_batch_size) +
           ", warmup " + std::to_string(opt.schedule().num_warmup_steps()) + ", " + args_.lr_scheduler_type +
           " schedule, lr " + format("%g", args_.learning_rate) + ", " + std::to_string(at::get_num_threads()) +
           " threads");

  auto run_eval = [&](std::int64_t step) {
    Metrics m = evaluate();
    const bool improved = best.offer(*model_, m, step);
    result.log_history.push_back(Json{{"step", step}, {"eval", m.all}});
    log.info("eval at step " + std::to_string(step) + ": " + metrics_text(m) + (improved ? " (best so far)" : ""));
  };

  ctx_.progress().begin("train", total);
  const auto start = clock::now();
  auto window_start = start;
  double loss_sum = 0, window_sum = 0;
  std::int64_t window_steps = 0;
  std::string status;
  for (std::int64_t step = 1; step <= total; ++step) {
    ctx_.throw_if_cancelled();
    const double lr = opt.learning_rate();
    const double loss = training_step(train_->collate(order.next_batch()));
    loss_sum += loss;
    window_sum += loss;
    ++window_steps;
    const bool last = step == total;
    if ((args_.logging_steps > 0 && step % args_.logging_steps == 0) || last) {
      const double secs = std::chrono::duration<double>(clock::now() - window_start).count();
      const double mean = window_sum / static_cast<double>(window_steps);
      const double it_s = secs > 0 ? static_cast<double>(window_steps) / secs : 0.0;
      status = format("loss=%.4f lr=%.3g it/s=%.2f", mean, lr, it_s);
      result.log_history.push_back(Json{{"step", step},
                                        {"epoch", static_cast<double>(step) / static_cast<double>(per_epoch)},
                                        {"loss", mean},
                                        {"learning_rate", lr},
                                        {"it_per_s", it_s}});
      log.info("step " + std::to_string(step) + "/" + std::to_string(total) + " " + status);
      window_sum = 0;
      window_steps = 0;
      window_start = clock::now();
    }
    ctx_.progress().update(step, status);
    if (eval_ && ((args_.save_steps > 0 && step % args_.save_steps == 0) || last)) run_eval(step);
  }
  ctx_.progress().end();

  result.steps = total;
  result.epochs = static_cast<double>(total) / static_cast<double>(per_epoch);
  result.train_loss = total > 0 ? loss_sum / static_cast<double>(total) : 0.0;
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  if (best.has_value()) {
    best.restore(*model_);
    result.best = best.metrics();
    result.best_step = best.step();
    log.info("restored the best state, from step " + std::to_string(best.step()) + ": " + metrics_text(best.metrics()));
  }
  return result;
}

}  // namespace slimpipe::train
