// The distillation loop. The teacher runs once per batch (PaddleNLP reruns it for every width; under
// no_grad in eval mode that gives the same tensors) and each width's graph is freed after its backward,
// so memory holds one student graph at a time.
#include "slimpipe/pruning/width_distillation.hpp"

#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <array>
#include <chrono>
#include <cstdio>

#include "slimpipe/nn/active_width.hpp"
#include "slimpipe/nn/prune.hpp"

namespace slimpipe::pruning {

namespace {

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string metrics_text(const Metrics& m) { return m.primary + "=" + fmt("%.4f", m.value); }

// Per width: sums of the total, hidden-state and logit losses since the last log.
struct LossWindow {
  std::vector<std::array<double, 3>> sums;
  std::int64_t steps = 0;

  explicit LossWindow(std::size_t widths) : sums(widths, {0.0, 0.0, 0.0}) {}

  void add(const std::vector<DistillLoss>& losses) {
    for (std::size_t i = 0; i < losses.size(); ++i) {
      sums[i][0] += losses[i].total.item<double>();
      sums[i][1] += losses[i].hidden.item<double>();
      sums[i][2] += losses[i].logits.item<double>();
    }
    ++steps;
  }
};

// The mean losses of each width since the last log go into one log_history entry and into the status line,
// which is returned; the window starts over.
std::string flush_window(LossWindow& window, const std::vector<WidthConfig>& widths, std::int64_t step,
                         std::int64_t per_epoch, double lr, Json& log_history) {
  Json per_width = Json::object();
  std::string status;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const double n = static_cast<double>(window.steps);
    per_width[width_text(widths[i].width)] = {
        {"loss", window.sums[i][0] / n}, {"hidden_mse", window.sums[i][1] / n}, {"logits_sce", window.sums[i][2] / n}};
    status += "loss@" + width_text(widths[i].width) + "=" + fmt("%.4f", window.sums[i][0] / n) + " ";
    window.sums[i] = {0.0, 0.0, 0.0};
  }
  status += "lr=" + fmt("%.3g", lr);
  log_history.push_back(Json{{"step", step},
                             {"epoch", static_cast<double>(step) / static_cast<double>(per_epoch)},
                             {"learning_rate", lr},
                             {"losses", per_width}});
  window.steps = 0;
  return status;
}

}  // namespace

WidthDistillation::WidthDistillation(nn::TaskModel student, nn::TaskModel teacher, Task& task,
                                     train::TrainingArguments args, double lambda_distill,
                                     std::vector<WidthConfig> widths, Context& ctx)
    : student_(std::move(student)),
      teacher_(std::move(teacher)),
      task_(task),
      args_(std::move(args)),
      lambda_(lambda_distill),
      widths_(std::move(widths)),
      ctx_(ctx),
      device_(ctx.device()) {
  args_.validate("dynabert");
  if (widths_.empty()) throw Error("dynabert: width_mult_list is empty");
  if (lambda_ < 0) throw Error("dynabert: lambda_distill must be >= 0, got " + fmt("%g", lambda_));
  student_->to(device_);
  teacher_->to(device_);
  teacher_->eval();
  for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
}

void WidthDistillation::set_train_data(std::shared_ptr<const FeatureSet> train) {
  train_ = std::move(train);
  optimizer_.reset();
}

void WidthDistillation::set_eval_data(std::shared_ptr<const FeatureSet> eval) { eval_ = std::move(eval); }

std::int64_t WidthDistillation::num_training_steps() const {
  if (!train_) throw Error("dynabert: set_train_data() must come before training");
  return args_.num_training_steps(train_->size());
}

train::TrainingOptimizer& WidthDistillation::optimizer() {
  // Built from the student only (the teacher's parameters are frozen and not optimised), after any
  // importance pass: it starts with clean gradients.
  if (!optimizer_) optimizer_ = std::make_unique<train::TrainingOptimizer>(*student_, args_, num_training_steps());
  return *optimizer_;
}

std::vector<DistillLoss> WidthDistillation::training_step(const Batch& batch) {
  auto& opt = optimizer();
  const Batch b = batch.to(device_);
  nn::EncoderOutput target;
  {
    at::NoGradGuard no_grad;
    target = teacher_->forward(b.inputs);
  }
  student_->train();
  opt.zero_grad();
  std::vector<DistillLoss> losses;
  for (const WidthConfig& w : widths_) {
    nn::ActiveWidthScope scope(*student_, w.heads, w.intermediate);
    DistillLoss loss =
        distill_loss(student_->forward(b.inputs), target, student_->head(), lambda_, b.inputs.attention_mask);
    loss.total.backward();  // accumulates: the step uses the sum over widths
    losses.push_back({loss.total.detach(), loss.hidden.detach(), loss.logits.detach()});
  }
  opt.apply();
  return losses;
}

std::vector<DistillLoss> WidthDistillation::data_parallel_step(const std::vector<std::int64_t>& global_batch) {
  auto& opt = optimizer();
  const train::Shard shard = parallel_->shard(global_batch);
  const Batch b = train_->collate(shard.indices).to(device_);
  // Each term times this rank's share of the global batch's units (the hidden MSE averages over tokens, the
  // logit loss over rows, or over tokens for token classification): the ranks' average is the global batch's loss.
  const at::Tensor& mask = b.inputs.attention_mask;
  const double tokens = !shard.contributes() ? 0.0
                        : mask.defined()     ? mask.sum().item<double>()
                                             : static_cast<double>(b.inputs.input_ids.numel());
  const double w_tokens = parallel_->unit_weight(tokens);
  const double w_logits = student_->head() == nn::TaskHead::TokenClassification ? w_tokens : shard.weight;
  nn::EncoderOutput target;
  {
    at::NoGradGuard no_grad;
    target = teacher_->forward(b.inputs);
  }
  student_->train();
  opt.zero_grad();
  std::vector<at::Tensor> values;
  for (const WidthConfig& w : widths_) {
    nn::ActiveWidthScope scope(*student_, w.heads, w.intermediate);
    const DistillLoss loss = distill_loss(student_->forward(b.inputs), target, student_->head(), lambda_, mask);
    const at::Tensor hidden = loss.hidden * w_tokens, logits = loss.logits * w_logits;
    const at::Tensor total = lambda_ * hidden + logits;
    total.backward();
    values.insert(values.end(), {total.detach(), hidden.detach(), logits.detach()});
  }
  const std::vector<double> global =
      parallel_->average_step(opt.parameters(), values, shard.contributes() && w_tokens > 0, ctx_.cancelled());
  opt.apply();  // clips the averaged (global) gradient
  std::vector<DistillLoss> losses;
  for (std::size_t i = 0; i < widths_.size(); ++i)
    losses.push_back({at::scalar_tensor(global[3 * i], at::kDouble), at::scalar_tensor(global[3 * i + 1], at::kDouble),
                      at::scalar_tensor(global[3 * i + 2], at::kDouble)});
  return losses;
}

std::vector<Metrics> WidthDistillation::score_widths(std::vector<nn::TaskModel>& models) {
  models.assign(widths_.size(), nn::TaskModel(nullptr));
  auto score = [&] {
    std::vector<Metrics> m;
    for (std::size_t i = 0; i < widths_.size(); ++i) {
      models[i] = pruned_model(i);
      m.push_back(task_.evaluate(*models[i], *eval_, args_.per_device_eval_batch_size));
    }
    return m;
  };
  return parallel_ ? parallel_->metrics_from_main(score) : score();
}

nn::TaskModel WidthDistillation::pruned_model(std::size_t i) const {
  const WidthConfig& w = widths_.at(i);
  return nn::prune(*student_, w.heads, w.intermediate);
}

Metrics WidthDistillation::evaluate_width(std::size_t i) const {
  if (!eval_) throw Error("dynabert: no eval split to evaluate on");
  nn::TaskModel pruned = pruned_model(i);
  return task_.evaluate(*pruned, *eval_, args_.per_device_eval_batch_size);
}

Metrics WidthDistillation::evaluate_teacher() {
  if (!eval_) throw Error("dynabert: no eval split to evaluate on");
  Metrics m = task_.evaluate(*teacher_, *eval_, args_.per_device_eval_batch_size);
  teacher_->eval();
  return m;
}

void WidthDistillation::log_plan(std::int64_t total, std::int64_t per_epoch) {
  if (!logs()) {
    ctx_.log().info(parallel_->rank_line("logs and scores the widths"));
    return;
  }
  const std::string processes = parallel_ ? parallel_->batch_note() : "";
  std::string names;
  for (const auto& w : widths_) names += (names.empty() ? "" : ", ") + width_text(w.width);
  ctx_.log().info("distillation: widths [" + names + "], " + std::to_string(train_->size()) + " features, " +
                  std::to_string(total) + " steps (" + std::to_string(per_epoch) + " per epoch), batch " +
                  std::to_string(args_.per_device_train_batch_size) + processes + ", warmup " +
                  std::to_string(optimizer().schedule().num_warmup_steps()) + ", lr " + fmt("%g", args_.learning_rate) +
                  ", lambda_distill " + fmt("%g", lambda_) + ", " + std::to_string(at::get_num_threads()) + " threads");
}

void WidthDistillation::score_sliced(DistillationResult& result) {
  // The slice itself (reordered, before distillation) is each width's first candidate: when distillation never
  // beats it on dev, it is the width's model (PaddleNLP starts from 0 and keeps only distilled states).
  std::vector<nn::TaskModel> models;
  const std::vector<Metrics> scores = score_widths(models);
  for (std::size_t i = 0; i < widths_.size(); ++i) {
    WidthOutcome& o = result.widths[i];
    o.sliced = scores[i];
    o.best = o.sliced;
    o.best_step = 0;
    o.best_model = models[i] ? models[i] : pruned_model(i);
    if (logs())
      ctx_.log().info("width " + width_text(widths_[i].width) +
                      " sliced, before distillation: " + metrics_text(o.sliced));
  }
}

void WidthDistillation::evaluate_widths(std::int64_t step, DistillationResult& result) {
  Json evals = Json::object();
  std::string line;
  std::vector<nn::TaskModel> models;
  const std::vector<Metrics> scores = score_widths(models);
  for (std::size_t i = 0; i < widths_.size(); ++i) {
    const Metrics& m = scores[i];
    WidthOutcome& o = result.widths[i];
    // Strictly better only, as BestState: on a tie the earlier (shorter-trained) model stays.
    const bool improved = !o.best || m.value > o.best->value;
    if (improved) {
      o.best = m;
      o.best_step = step;
      o.best_model = models[i] ? models[i] : pruned_model(i);
    }
    evals[width_text(widths_[i].width)] = m.all;
    line += " width " + width_text(widths_[i].width) + ": " + metrics_text(m) + (improved ? " (best)" : "") + ";";
  }
  line.pop_back();
  result.log_history.push_back(Json{{"step", step}, {"eval", evals}});
  if (logs()) ctx_.log().info("eval at step " + std::to_string(step) + ":" + line);
}

DistillationResult WidthDistillation::train() {
  using clock = std::chrono::steady_clock;
  if (!eval_) throw Error("dynabert: needs the task's eval split to pick each width's best model");
  if (ctx_.threads() > 0) at::set_num_threads(ctx_.threads());
  torch::manual_seed(static_cast<std::uint64_t>(args_.seed));
  const std::int64_t total = num_training_steps();
  const std::int64_t per_epoch = args_.steps_per_epoch(train_->size());
  auto& opt = optimizer();
  parallel_ = train::DataParallel::from_environment(ctx_.instance_id() + "/distill");
  if (parallel_) {
    parallel_->broadcast_state(*student_);
    parallel_->broadcast_state(*teacher_);
  }
  // Shuffling uses its own generator, so dropout draws do not change the batches.
  train::EpochOrder order(train_->size(), args_.per_device_train_batch_size, static_cast<std::uint64_t>(args_.seed));
  auto& log = ctx_.log();
  DistillationResult result;
  for (const auto& w : widths_) result.widths.push_back({w, {}, {}, -1, nullptr});
  log_plan(total, per_epoch);
  score_sliced(result);

  ctx_.progress().begin("distill", total);
  const auto start = clock::now();
  LossWindow window(widths_.size());
  std::string status;
  for (std::int64_t step = 1; step <= total; ++step) {
    train::throw_if_cancelled(ctx_, parallel_.get());
    const double lr = opt.learning_rate();
    const auto global_batch = order.next_batch();
    window.add(parallel_ ? data_parallel_step(global_batch) : training_step(train_->collate(global_batch)));
    const bool last = step == total;
    if ((args_.logging_steps > 0 && step % args_.logging_steps == 0) || last) {
      status = flush_window(window, widths_, step, per_epoch, lr, result.log_history);
      if (logs()) log.info("step " + std::to_string(step) + "/" + std::to_string(total) + " " + status);
    }
    ctx_.progress().update(step, status);
    if ((args_.save_steps > 0 && step % args_.save_steps == 0) || last) evaluate_widths(step, result);
  }
  ctx_.progress().end();
  if (total == 0) evaluate_widths(0, result);
  const bool main = logs();
  if (parallel_) parallel_->barrier();
  parallel_.reset();

  result.steps = total;
  result.seconds = std::chrono::duration<double>(clock::now() - start).count();
  for (const auto& o : result.widths)
    if (main)
      log.info("width " + width_text(o.width.width) + ": best " + metrics_text(*o.best) + " at step " +
               std::to_string(o.best_step) + " (sliced without distillation: " + metrics_text(o.sliced) + ")");
  return result;
}

}  // namespace slimpipe::pruning
