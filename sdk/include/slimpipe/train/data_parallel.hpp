// One training run spread over the processes the environment describes (slimpipe launch, torchrun, srun): the
// pieces the Trainer and DynaBERT's width distillation share to train data-parallel with the result of one process.
//
// The contract: every rank draws the same global batches (same seed, same EpochOrder) and takes a contiguous shard
// of each; each rank scales its mean loss by its share of the global batch's units (Shard::weight, or
// unit_weight() for losses over tokens) before backward, so that the ranks' averaged gradients are the global
// batch's gradient; average_step() averages them (and the logged losses) before clipping and the optimizer step;
// rank 0 evaluates and every rank takes its figures (metrics_from_main), so all keep and restore the same state.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/context.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/train/distributed.hpp"

namespace slimpipe::train {

// This rank's part of one global batch.
struct SLIMPIPE_API Shard {
  // Rows [n·r/w, n·(r+1)/w) of the global batch of n rows, for rank r of w. Never empty: a rank whose range is empty
  // (a global batch of fewer rows than ranks) gets the global batch's first row, with weight 0.
  std::vector<std::int64_t> indices;
  // rows here × w / n: a rank's mean over its rows times this, averaged over the ranks, is the global mean.
  double weight = 1;
  bool contributes() const { return weight > 0; }
};

// The units `task.loss` averages over in `batch`, as the Batch contract lays out its targets: the labelled tokens
// (labels != -100) when "labels" is [batch, sequence] (token classification), else the rows.
SLIMPIPE_API bool loss_per_token(const Batch& batch);
SLIMPIPE_API double loss_units(const Batch& batch);

class SLIMPIPE_API DataParallel {
 public:
  // Null when the environment describes one process (world size 1): the caller then trains exactly as it does
  // without distribution. Otherwise joins the process group `name` (every rank passes the same name, e.g. the
  // instance id) with the environment's timeout; throws Error when a variable is malformed or the group cannot form.
  static std::unique_ptr<DataParallel> from_environment(const std::string& name);
  DataParallel(const DistributedEnv& env, const std::string& name);

  int rank() const { return group_.rank(); }
  int world_size() const { return group_.world_size(); }
  bool is_main() const { return group_.rank() == 0; }

  // Rank 0's parameters and buffers of `module` copied into every rank's (the starting weights).
  void broadcast_state(torch::nn::Module& module);
  // This rank's contiguous share of `global` (every rank passes the same global batch).
  Shard shard(const std::vector<std::int64_t>& global) const;
  // local / (the mean of local over the ranks): the factor that makes the ranks' average of their weighted means
  // over `local` units each (e.g. tokens) the mean over all units. One collective; 0 when no rank has a unit.
  double unit_weight(double local);
  // The weight of this rank's task loss on `batch` (its shard): the shard's row weight, or for a loss over
  // labelled tokens (loss_per_token) its share of the global batch's labelled tokens (one collective).
  double loss_weight(const Shard& shard, const Batch& batch);

  // After this rank's backward of its weighted loss(es): the gradients of `parameters` and `values` (this rank's
  // weighted losses, for the log) averaged over the ranks in one collective, along with whether any rank was
  // cancelled (see stop_requested). A rank that does not `contribute` counts as zero gradients and values, whatever
  // its backward left (a mean over no units is NaN). Returns the averaged values.
  std::vector<double> average_step(const std::vector<at::Tensor>& parameters, const std::vector<at::Tensor>& values,
                                   bool contributes, bool cancelled);
  // Whether any rank reported `cancelled` in the last average_step: every rank sees the same answer after the same
  // step, so all stop together (a rank that stopped alone would leave the others waiting in a collective).
  bool stop_requested() const { return stop_; }

  // `compute` runs on rank 0 only; every rank returns its result (the others wait in the broadcast).
  std::vector<Metrics> metrics_from_main(const std::function<std::vector<Metrics>()>& compute);
  void barrier() { group_.barrier(); }

  // The log line of a rank other than 0 ("data parallel: rank 1 of 2; rank 0 <main_role>"), and the note the
  // plan line of rank 0 gives its batch size (" (global; 2 processes, each a contiguous shard)").
  std::string rank_line(const std::string& main_role) const;
  std::string batch_note() const;

 private:
  ProcessGroup group_;
  bool stop_ = false;
};

// Between steps of a training loop: ctx.throw_if_cancelled() with one process; with `parallel`, Cancelled once any
// rank was cancelled (stop_requested), so that all ranks stop after the same step.
SLIMPIPE_API void throw_if_cancelled(const Context& ctx, const DataParallel* parallel);

}  // namespace slimpipe::train
