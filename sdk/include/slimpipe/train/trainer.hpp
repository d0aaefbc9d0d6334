// Trainer: supervised fine-tuning of a TaskModel on a Task's features, Hugging Face Trainer style
// (AdamW, warmup schedule, clipping, periodic evaluation, best state restored at the end).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "slimpipe/context.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/train/best_state.hpp"
#include "slimpipe/train/data_parallel.hpp"
#include "slimpipe/train/epoch_order.hpp"
#include "slimpipe/train/optimizer.hpp"
#include "slimpipe/train/training_arguments.hpp"

namespace slimpipe::train {

struct SLIMPIPE_API TrainingResult {
  std::int64_t steps = 0;
  double epochs = 0;      // steps / steps_per_epoch
  double train_loss = 0;  // mean loss over every step, as HF's TrainOutput.training_loss
  double seconds = 0;
  std::optional<Metrics> best;  // best evaluation (restored into the model); unset without eval data
  std::int64_t best_step = -1;
  Json log_history = Json::array();  // {step, loss, learning_rate, grad_norm, it_per_s} and {step, eval}
  Json to_json() const;
};

// The pieces are public so other training plugins (DynaBERT) can reuse them around their own
// losses: the optimizer (zero_grad / backward / apply), the epoch order, evaluate() and BestState.
//
// Threads: train() calls at::set_num_threads(ctx.threads()). That setting is process-wide in
// LibTorch, so instances running side by side in one host each set the same value (the host gives
// every instance the same budget); nothing restores the previous value.
// Determinism: the same seed gives the same weights for the same thread count, provided no other
// instance draws from LibTorch's global generator meanwhile (dropout uses it).
//
// Data parallel: when the environment describes several processes (DistributedEnv::from_environment(), as
// `slimpipe launch`, torchrun or srun set it), train() forms one process group per run (named after
// ctx.instance_id()), copies rank 0's weights to every rank, and each rank trains on its contiguous shard of every
// global batch of args.per_device_train_batch_size rows (the batch of one optimizer step, whatever the number of
// processes), with the gradients averaged before clipping (data_parallel.hpp). Rank 0 logs and evaluates; every
// rank keeps and restores the same best state. With one process nothing of this runs.
class SLIMPIPE_API Trainer {
 public:
  // Moves `model` to ctx.device(). The optimizer is built by the first call that needs it, once the
  // train split (and so the number of steps) is known.
  Trainer(nn::TaskModel model, Task& task, TrainingArguments args, Context& ctx);

  void set_train_data(std::shared_ptr<const FeatureSet> train);
  void set_eval_data(std::shared_ptr<const FeatureSet> eval);  // null: no evaluation

  std::int64_t num_training_steps() const;
  TrainingOptimizer& optimizer();
  EpochOrder& epoch_order();
  nn::TaskModel& model() { return model_; }
  const TrainingArguments& args() const { return args_; }

  // One supervised update on `batch`: forward in train mode, task loss, backward, clip, AdamW step,
  // schedule step. Returns the loss before the update.
  double training_step(const Batch& batch);
  // Scores the model on the eval split (eval mode, no gradients), then puts it back in train mode.
  Metrics evaluate();

  // The whole loop: seeds LibTorch's generator with args.seed, runs num_training_steps() steps over
  // reshuffled epochs, logs every logging_steps, evaluates every save_steps and at the end, keeps
  // the best state and restores it. Throws Cancelled (via ctx.throw_if_cancelled) between steps.
  TrainingResult train();

 private:
  nn::TaskModel model_;
  Task& task_;
  TrainingArguments args_;
  Context& ctx_;
  c10::Device device_;
  std::shared_ptr<const FeatureSet> train_, eval_;
  std::unique_ptr<TrainingOptimizer> optimizer_;
  std::unique_ptr<EpochOrder> order_;
  std::unique_ptr<DataParallel> parallel_;  // during train() on several processes

  // The parts of train(): one step on this rank's shard of a global batch (with parallel_), an evaluation that
  // rank 0 runs and every rank receives, whether this rank writes the log, and the opening log line.
  double data_parallel_step(const std::vector<std::int64_t>& global_batch);
  Metrics evaluate_on_main();
  bool logs() const { return !parallel_ || parallel_->is_main(); }
  void log_plan(std::int64_t total, std::int64_t per_epoch);
};

}  // namespace slimpipe::train
