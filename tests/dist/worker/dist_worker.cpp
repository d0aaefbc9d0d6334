// One rank of the data-parallel checks in tests/dist/distributed_test.cpp: joins the group the environment
// describes (or runs alone without one), checks average and broadcast, then trains a linear model with SGD for 20
// steps on its shard of a fixed global batch, averaging gradients, and writes every step's full-batch loss and the
// final weights to the file named by its argument (rank 0 only).
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <iomanip>

#include "slimpipe/error.hpp"
#include "slimpipe/train/distributed.hpp"

namespace {

using slimpipe::train::DistributedEnv;
using slimpipe::train::ProcessGroup;

int check_collectives(ProcessGroup& pg) {
  const double r = pg.rank();
  const double n = pg.world_size();
  at::Tensor a = torch::full({3}, r + 1, torch::kFloat);
  at::Tensor b = torch::full({2, 2}, 10 * (r + 1), torch::kDouble);
  pg.average({a, b});
  const double mean = (n + 1) / 2;  // of 1..n
  if (std::abs(a[0].item<double>() - mean) > 1e-6 || std::abs(b[1][1].item<double>() - 10 * mean) > 1e-9) {
    std::fprintf(stderr, "rank %d: average gave %f and %f, expected %f and %f\n", pg.rank(), a[0].item<double>(),
                 b[1][1].item<double>(), mean, 10 * mean);
    return 1;
  }
  const int root = pg.world_size() - 1;
  at::Tensor c = torch::full({4}, 7 * r, torch::kFloat);
  pg.broadcast({c}, root);
  if (c[3].item<double>() != 7.0 * root) {
    std::fprintf(stderr, "rank %d: broadcast gave %f, expected %f\n", pg.rank(), c[3].item<double>(), 7.0 * root);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dist_worker OUT_FILE\n");
    return 2;
  }
  try {
    const DistributedEnv env = DistributedEnv::from_environment();
    std::unique_ptr<ProcessGroup> pg;
    if (env.enabled()) {
      pg = std::make_unique<ProcessGroup>(env, std::chrono::seconds(60));
      if (check_collectives(*pg)) return 1;
    }
    // The same global batch on every rank; each trains on its rows.
    torch::manual_seed(123);
    const std::int64_t rows = 16;
    const at::Tensor x = torch::randn({rows, 5}, torch::kDouble);
    const at::Tensor y = torch::randn({rows, 3}, torch::kDouble);
    // Different initial weights per rank: the broadcast from rank 0 must make them equal.
    torch::manual_seed(1000 + env.rank);
    at::Tensor w = torch::randn({5, 3}, torch::kDouble).requires_grad_(true);
    if (pg) pg->broadcast({w});
    const std::int64_t from = rows * env.rank / env.world_size, to = rows * (env.rank + 1) / env.world_size;
    const at::Tensor xs = x.slice(0, from, to), ys = y.slice(0, from, to);
    std::ofstream out;
    if (env.rank == 0) out.open(argv[1]);
    out << std::setprecision(17);
    for (int step = 0; step < 20; ++step) {
      // Each shard's loss is its sum over rows / the global row count, so averaging the gradients over the ranks
      // (× world size / world size) gives the gradient of the global mean.
      const at::Tensor loss = (xs.matmul(w) - ys).pow(2).sum() / static_cast<double>(rows) * env.world_size;
      w.mutable_grad() = at::Tensor();
      loss.backward();
      if (pg) pg->average_gradients({w});
      {
        torch::NoGradGuard no_grad;
        w.sub_(w.grad() * 0.05);
      }
      torch::NoGradGuard no_grad;
      out << (x.matmul(w) - y).pow(2).sum().item<double>() / rows << "\n";
    }
    const at::Tensor flat = w.detach().reshape({-1});
    for (std::int64_t i = 0; i < flat.numel(); ++i)
      out << flat[i].item<double>() << (i + 1 < flat.numel() ? " " : "\n");
    if (pg) pg->barrier();
    return 0;
  } catch (const slimpipe::Error& e) {
    std::fprintf(stderr, "dist_worker: %s\n", e.what());
    return 1;
  }
}
