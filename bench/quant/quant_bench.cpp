// quant_bench: peak resident memory (VmHWM) and time of hist/KL calibration over 1 and 50 BERT-base-shaped
// activation batches, each in a fresh child process; then our hist vs PyTorch's HistogramObserver.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "slimpipe/quant/observer.hpp"

namespace {

using slimpipe::quant::make_observer;

struct Result {
  double seconds = 0, threshold = 0, checksum = 0;
  long hwm_kb = 0, base_kb = 0;
  long state = 0;
};

long vm_hwm_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// Batch b of a shape: same seed and generator as torch_histogram_observer.py. Attention-prob shapes (4-d) are
// softmaxed so that they look like what the pv MatMul sees.
at::Tensor make_batch(const std::vector<std::int64_t>& shape, int b) {
  at::manual_seed(1000 + b);
  at::Tensor x = at::randn(shape);
  return shape.size() == 4 ? at::softmax(x * 3, -1) : x;
}

// Runs one calibration in a child so that VmHWM measures it alone; batches are made one at a time and
// dropped after observe(), as a calibration loop over a data loader does.
Result run_child(const std::string& algo, const std::vector<std::int64_t>& shape, int batches) {
  int fd[2];
  if (pipe(fd) != 0) std::exit(2);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    // Pin glibc's mmap threshold: otherwise freeing the first batch raises it and later batches are carved
    // from a heap that keeps freed memory, so VmHWM would measure the allocator's cache, not our state.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    at::set_num_threads(1);
    Result r;
    auto obs = make_observer(algo);
    at::Tensor warm = make_batch(shape, 0);  // touch the allocator before taking the baseline
    warm.reset();
    r.base_kb = vm_hwm_kb();
    for (int b = 0; b < batches; ++b) {
      at::Tensor x = make_batch(shape, b);
      r.checksum += x.narrow(-1, 0, 4).sum().item<double>();
      const auto t0 = std::chrono::steady_clock::now();
      obs->observe(x);
      r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const auto t0 = std::chrono::steady_clock::now();
    r.threshold = obs->threshold();
    r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.hwm_kb = vm_hwm_kb();
    r.state = obs->state_size();
    if (write(fd[1], &r, sizeof r) != sizeof r) _exit(3);
    _exit(0);
  }
  close(fd[1]);
  Result r;
  if (read(fd[0], &r, sizeof r) != sizeof r) std::fprintf(stderr, "child failed\n");
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return r;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t;
  for (auto v : s) t += (t.empty() ? "" : ",") + std::to_string(v);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int torch_batches = 10;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--torch-batches") torch_batches = std::atoi(argv[i + 1]);

  const std::vector<std::vector<std::int64_t>> shapes{{8, 128, 768}, {8, 12, 128, 128}};
  std::printf(
      "Calibration memory/time, one thread (VmHWM of a child process, mmap threshold 1 MiB; batch made, observed, "
      "dropped)\n");
  std::printf("%-5s %-14s %7s %10s %12s %14s %9s %10s\n", "algo", "shape", "batches", "time_s", "peak_MiB",
              "above_base_MiB", "bins", "threshold");
  for (const auto& shape : shapes) {
    const double batch_mib = 4.0 * static_cast<double>(at::ones(shape).numel()) / (1 << 20);
    for (const std::string algo : {"hist", "KL"}) {
      Result r1 = run_child(algo, shape, 1), r50 = run_child(algo, shape, 50);
      for (auto [n, r] : {std::pair{1, r1}, std::pair{50, r50}})
        std::printf("%-5s %-14s %7d %10.3f %12.1f %14.1f %9ld %10.5f\n", algo.c_str(), shape_text(shape).c_str(), n,
                    r.seconds, r.hwm_kb / 1024.0, (r.hwm_kb - r.base_kb) / 1024.0, r.state, r.threshold);
      std::printf(
          "      peak ratio 50/1 batches: %.3f   time ratio: %.1f   (keeping all 50 batches, as ORT does: +%.0f MiB)\n",
          static_cast<double>(r50.hwm_kb) / static_cast<double>(r1.hwm_kb), r50.seconds / r1.seconds, 50 * batch_mib);
    }
  }

  const std::vector<std::int64_t> shape{8, 128, 768};
  Result ours = run_child("hist", shape, torch_batches);
  const std::string cmd = std::string("/usr/bin/python3 ") + SLIMPIPE_QUANT_BENCH_TORCH_SCRIPT + " --shape " +
                          shape_text(shape) + " --batches " + std::to_string(torch_batches);
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512] = {0};
  const bool ok = p && std::fgets(buf, sizeof buf, p);
  if (p) pclose(p);
  double torch_s = 0, torch_t = 0, torch_sum = 0;
  if (!ok || std::sscanf(buf, "{\"seconds\": %lf, \"threshold\": %lf, \"checksum\": %lf", &torch_s, &torch_t,
                         &torch_sum) != 3) {
    std::printf("\nPyTorch HistogramObserver: not run (%s failed: no python3-torch?)\n", cmd.c_str());
    return 0;
  }
  std::printf("\nhist vs torch.ao.quantization.HistogramObserver, %d batches of [%s], one thread\n", torch_batches,
              shape_text(shape).c_str());
  std::printf("  same tensors: checksum ours %.4f torch %.4f\n", ours.checksum, torch_sum);
  std::printf("  slimpipe hist   %8.3f s  T = %.5f (99.99%% of |x|)\n", ours.seconds, ours.threshold);
  std::printf("  torch Histogram %8.3f s  T = %.5f (L2 search)\n", torch_s, torch_t);
  std::printf("  speed-up: %.1fx\n", torch_s / ours.seconds);
  return 0;
}
