// LibTorch thread budget.
#include "slimpipe/threads.hpp"

#include <ATen/Parallel.h>

namespace slimpipe {

void set_intra_op_threads(int threads) {
  if (threads > 0 && at::get_num_threads() != threads) at::set_num_threads(threads);
}

int intra_op_threads() { return at::get_num_threads(); }

}  // namespace slimpipe
