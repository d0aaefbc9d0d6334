// What this build of LibTorch can run on, for hosts that must not include LibTorch headers (the
// pipeline checker rejects device = "cuda" up front on a CPU-only build).
#pragma once

#include "slimpipe/export.hpp"

namespace slimpipe {

// True when this process runs a LibTorch built with CUDA (whether or not a GPU is visible).
SLIMPIPE_API bool cuda_built();
// True when LibTorch was built with CUDA and sees at least one GPU.
SLIMPIPE_API bool cuda_available();
// GPUs LibTorch sees (0 on a CPU-only build).
SLIMPIPE_API int cuda_device_count();

}  // namespace slimpipe
