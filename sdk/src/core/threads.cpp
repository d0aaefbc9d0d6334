// LibTorch thread budget, and the BLAS library's: Debian's LibTorch runs fp32 GEMMs in the system OpenBLAS,
// whose pthread build keeps its own pool sized to every core whatever at::set_num_threads says. Left alone,
// two instances in flight would each run GEMMs on all cores (4 busy threads on 2 cores).
#include "slimpipe/threads.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>

namespace slimpipe {

namespace {

// openblas_set_num_threads when the process has OpenBLAS loaded (through LibTorch's libblas); else a no-op.
void set_blas_threads(int threads) {
  using Fn = void (*)(int);
  static Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn) fn(threads);
}

}  // namespace

void set_intra_op_threads(int threads) {
  if (threads <= 0) return;
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  set_blas_threads(threads);
}

int intra_op_threads() { return at::get_num_threads(); }

}  // namespace slimpipe
