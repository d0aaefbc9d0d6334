// Data parallelism across processes with LibTorch's own c10d and its Gloo backend (CPU): where each process
// finds the others (the environment torchrun and Slurm's srun set), and the collectives a data-parallel trainer
// needs. One process per rank; rank 0 serves the rendezvous store.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::train {

struct SLIMPIPE_API DistributedEnv {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // How long a collective (or joining the group) waits for the other ranks before failing: SLIMPIPE_DIST_TIMEOUT
  // in seconds, default 1800 (rank 0 evaluates while the others wait in the next collective).
  int timeout_s = 1800;
  bool enabled() const { return world_size > 1; }
  bool is_main() const { return rank == 0; }

  // RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT as torchrun sets them; without RANK/WORLD_SIZE, Slurm's
  // SLURM_PROCID and SLURM_NTASKS inside an srun step (SLURM_STEP_ID set; a batch script is one process), with
  // MASTER_ADDR or else SLURM_LAUNCH_NODE_IPADDR. Neither: one process (world_size 1). Throws Error naming the variable
  // and what it must be when a value is malformed or out of range (rank outside [0, world_size), a port outside [1,
  // 65535], a timeout outside [1, 604800]).
  static DistributedEnv from_environment();
};

// A Gloo process group over a c10d::TCPStore at master_addr:master_port. Every rank constructs one with the same
// world size; the constructor returns once all have joined (or throws Error after `timeout`).
//
// Rank 0 serves the store from its first group until the process exits; each group has its own client and key
// prefix. So a process may build several groups, one after another or side by side: each is keyed by `name` and by
// how many groups of that name this process built before, and the ranks must build theirs in the same order (a
// training run names its group after its instance).
class SLIMPIPE_API ProcessGroup {
 public:
  explicit ProcessGroup(const DistributedEnv& env, std::chrono::milliseconds timeout = std::chrono::minutes(5),
                        const std::string& name = "group");
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;

  // Every tensor summed across the ranks and divided by the world size, in place (one flattened buffer per
  // dtype: one collective, not one per tensor). Tensors must be contiguous and on the CPU.
  void average(const std::vector<at::Tensor>& tensors);
  // The gradients of `parameters` (those that have one) averaged across the ranks: what makes one optimizer step
  // on N processes equal to a step on the whole global batch.
  void average_gradients(const std::vector<at::Tensor>& parameters);
  // Rank `root`'s values copied into every rank's tensors, in place (e.g. the initial weights).
  void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
  // Rank `root`'s `text` on every rank (e.g. rank 0's evaluation as JSON).
  std::string broadcast_text(const std::string& text, int root = 0);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimpipe::train
