// Width-adaptive distillation (DynaBERT stage 1 as PaddleNLP runs it): every step trains each listed
// width of the reordered supernet against the frozen full-width teacher, gradients summed over widths,
// one optimizer step; every save_steps each width is scored and its best pruned model kept.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "slimpipe/context.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/pruning/distillation_loss.hpp"
#include "slimpipe/pruning/width_config.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/train/data_parallel.hpp"
#include "slimpipe/train/epoch_order.hpp"
#include "slimpipe/train/optimizer.hpp"
#include "slimpipe/train/training_arguments.hpp"

namespace slimpipe::pruning {

struct SLIMPIPE_API WidthOutcome {
  WidthConfig width;
  Metrics sliced;               // the pruned model before any distillation (reordered, then sliced)
  std::optional<Metrics> best;  // best evaluation during distillation
  std::int64_t best_step = -1;
  nn::TaskModel best_model{nullptr};  // the pruned model of the best evaluation (a separate copy)
};

struct SLIMPIPE_API DistillationResult {
  std::vector<WidthOutcome> widths;  // in the order given
  std::int64_t steps = 0;
  double seconds = 0;
  Json log_history = Json::array();  // {step, learning_rate, losses{width: {loss, hidden_mse, logits_sce}}} and {step,
                                     // eval{width: metrics}}
};

class SLIMPIPE_API WidthDistillation {
 public:
  // `student`: the reordered supernet (trained in place). `teacher`: the input model; it is put in eval
  // mode with requires_grad off and only ever run under no_grad (PaddleNLP leaves it in train mode with
  // dropout on and builds its graph). Both are moved to ctx.device().
  WidthDistillation(nn::TaskModel student, nn::TaskModel teacher, Task& task, train::TrainingArguments args,
                    double lambda_distill, std::vector<WidthConfig> widths, Context& ctx);

  void set_train_data(std::shared_ptr<const FeatureSet> train);
  void set_eval_data(std::shared_ptr<const FeatureSet> eval);

  std::int64_t num_training_steps() const;
  train::TrainingOptimizer& optimizer();

  // One optimizer step on `batch`: the teacher once, then each width (forward, loss, backward) in the
  // given order, then clipping + AdamW on the summed gradients. Returns the loss of each width.
  std::vector<DistillLoss> training_step(const Batch& batch);

  // The pruned model of width i: a fresh copy of the supernet's leading heads / neurons.
  nn::TaskModel pruned_model(std::size_t i) const;
  // Scores width i (its pruned model, which computes the same function as the supernet at that width).
  Metrics evaluate_width(std::size_t i) const;
  Metrics evaluate_teacher();

  // Seeds LibTorch with args.seed, scores every width as sliced, runs num_training_steps() steps,
  // evaluates every save_steps and after the last step (so a best model always exists).
  // On several processes (slimpipe/train/data_parallel.hpp) it trains data-parallel as the Trainer does: rank 0's
  // student and teacher on every rank, a contiguous shard of every global batch per rank, the hidden-state MSE
  // weighted by each shard's share of the global batch's tokens and the logit loss by its share of the rows (tokens
  // for token classification), gradients averaged before clipping; rank 0 logs and scores the widths, and every
  // rank keeps the same best models.
  DistillationResult train();

  nn::TaskModel& student() { return student_; }

 private:
  // The parts of train(): the opening log line, each width's score as sliced (its first best model), and one
  // evaluation of every width after `step` steps (keeping a strictly better model as the width's best).
  void log_plan(std::int64_t total, std::int64_t per_epoch);
  void score_sliced(DistillationResult& result);
  void evaluate_widths(std::int64_t step, DistillationResult& result);
  // With parallel_: one step on this rank's shard of `global_batch`; returns the global batch's losses per width.
  std::vector<DistillLoss> data_parallel_step(const std::vector<std::int64_t>& global_batch);
  // Every width's score (rank 0 scores, every rank receives); `models[i]` holds the pruned model scored, where
  // this process scored one.
  std::vector<Metrics> score_widths(std::vector<nn::TaskModel>& models);
  bool logs() const { return !parallel_ || parallel_->is_main(); }

  nn::TaskModel student_, teacher_;
  Task& task_;
  train::TrainingArguments args_;
  double lambda_;
  std::vector<WidthConfig> widths_;
  Context& ctx_;
  c10::Device device_;
  std::shared_ptr<const FeatureSet> train_, eval_;
  std::unique_ptr<train::TrainingOptimizer> optimizer_;
  std::unique_ptr<train::DataParallel> parallel_;  // during train() on several processes
};

}  // namespace slimpipe::pruning
