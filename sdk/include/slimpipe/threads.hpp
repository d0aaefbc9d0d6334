// The intra-op thread budget of LibTorch, set through the SDK so the host needs no torch headers.
#pragma once

#include "slimpipe/export.hpp"

namespace slimpipe {

// Sets LibTorch's intra-op thread count. It is process-wide (one OpenMP pool), which is why the
// host sets it once per run to cores / max_parallel, the same for every instance.
SLIMPIPE_API void set_intra_op_threads(int threads);
SLIMPIPE_API int intra_op_threads();

}  // namespace slimpipe
