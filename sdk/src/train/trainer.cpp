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

// The losses since the last log line: HF's logged loss is their mean.
struct LossWindow {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double sum = 0;
  std::int64_t steps = 0;

  // The status line of the window ending at `step` (whose rate was `lr`), appended to `history`; starts over.
  std::string flush(std::int64_t step, std::int64_t per_epoch, double lr, Json& history) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mean = sum / static_cast<double>(steps);
    const double it_s = secs > 0 ? static_cast<double>(steps) / secs : 0.0;
    history.push_back(Json{{"step", step},
                           {"epoch", static_cast<double>(step) / static_cast<double>(per_epoch)},
                           {"loss", mean},
                           {"learning_rate", lr},
                           {"it_per_s", it_s}});
    sum = 0;
    steps = 0;
    start = std::chrono::steady_clock::now();
    return format("loss=%.4f lr=%.3g it/s=%.2f", mean, lr, it_s);
  }
};

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

double Trainer::data_parallel_step(const std::vector<std::int64_t>& global_batch) {
  auto& opt = optimizer();
  model_->train();
  opt.zero_grad();
  const Shard shard = parallel_->shard(global_batch);
  const Batch on_device = train_->collate(shard.indices).to(device_);
  const double weight = parallel_->loss_weight(shard, on_device);
  // This rank's mean loss times its share of the global batch: the ranks' average is the global batch's loss.
  at::Tensor loss = task_.loss(model_->forward(on_device.inputs), on_device) * weight;
  loss.backward();
  const double global_loss = parallel_->average_step(opt.parameters(), {loss}, weight > 0, ctx_.cancelled()).at(0);
  opt.apply();  // clips the averaged (global) gradient
  return global_loss;
}

Metrics Trainer::evaluate_on_main() {
  if (!parallel_) return evaluate();
  return parallel_->metrics_from_main([this] { return std::vector<Metrics>{evaluate()}; }).at(0);
}

void Trainer::log_plan(std::int64_t total, std::int64_t per_epoch) {
  if (!logs()) {
    ctx_.log().info(parallel_->rank_line("logs and evaluates"));
    return;
  }
  const std::string processes = parallel_ ? parallel_->batch_note() : "";
  ctx_.log().info("training: " + std::to_string(train_->size()) + " features, " + std::to_string(total) + " steps (" +
                  std::to_string(per_epoch) + " per epoch), batch " +
                  std::to_string(args_.per_device_train_batch_size) + processes + ", warmup " +
                  std::to_string(optimizer().schedule().num_warmup_steps()) + ", " + args_.lr_scheduler_type +
                  " schedule, lr " + format("%g", args_.learning_rate) + ", " + std::to_string(at::get_num_threads()) +
                  " threads");
}

TrainingResult Trainer::train() {
  using clock = std::chrono::steady_clock;
  if (ctx_.threads() > 0) at::set_num_threads(ctx_.threads());
  torch::manual_seed(static_cast<std::uint64_t>(args_.seed));
  const std::int64_t total = num_training_steps();
  const std::int64_t per_epoch = args_.steps_per_epoch(train_->size());
  auto& opt = optimizer();
  auto& order = epoch_order();
  parallel_ = DataParallel::from_environment(ctx_.instance_id() + "/train");
  if (parallel_) parallel_->broadcast_state(*model_);
  BestState best;
  TrainingResult result;
  auto& log = ctx_.log();
  log_plan(total, per_epoch);
  const bool main = logs();

  auto run_eval = [&](std::int64_t step) {
    Metrics m = evaluate_on_main();
    const bool improved = best.offer(*model_, m, step);
    result.log_history.push_back(Json{{"step", step}, {"eval", m.all}});
    if (main)
      log.info("eval at step " + std::to_string(step) + ": " + metrics_text(m) + (improved ? " (best so far)" : ""));
  };

  ctx_.progress().begin("train", total);
  const auto start = clock::now();
  LossWindow window;
  double loss_sum = 0;
  std::string status;
  for (std::int64_t step = 1; step <= total; ++step) {
    throw_if_cancelled(ctx_, parallel_.get());
    const double lr = opt.learning_rate();
    const auto global_batch = order.next_batch();
    const double loss = parallel_ ? data_parallel_step(global_batch) : training_step(train_->collate(global_batch));
    loss_sum += loss;
    window.sum += loss;
    ++window.steps;
    const bool last = step == total;
    if ((args_.logging_steps > 0 && step % args_.logging_steps == 0) || last) {
      status = window.flush(step, per_epoch, lr, result.log_history);
      if (main) log.info("step " + std::to_string(step) + "/" + std::to_string(total) + " " + status);
    }
    ctx_.progress().update(step, status);
    if (eval_ && ((args_.save_steps > 0 && step % args_.save_steps == 0) || last)) run_eval(step);
  }
  ctx_.progress().end();
  if (parallel_) parallel_->barrier();
  parallel_.reset();

  result.steps = total;
  result.epochs = static_cast<double>(total) / static_cast<double>(per_epoch);
  result.train_loss = total > 0 ? loss_sum / static_cast<double>(total) : 0.0;
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  if (best.has_value()) {
    best.restore(*model_);
    result.best = best.metrics();
    result.best_step = best.step();
    if (main)
      log.info("restored the best state, from step " + std::to_string(best.step()) + ": " +
               metrics_text(best.metrics()));
  }
  return result;
}

}  // namespace slimpipe::train
