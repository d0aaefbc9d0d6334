// CUDA availability through the SDK, so that the host needs no LibTorch headers.
#include "slimpipe/cuda.hpp"

#include <dlfcn.h>
#include <torch/cuda.h>

#include <initializer_list>

namespace slimpipe {

// A CUDA build of LibTorch links libtorch_cuda.so (and libc10_cuda.so) into every program that uses it.
bool cuda_built() {
  for (const char* lib : {"libtorch_cuda.so", "libc10_cuda.so"})
    if (void* h = ::dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
      ::dlclose(h);
      return true;
    }
  return false;
}

bool cuda_available() { return torch::cuda::is_available(); }

int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

}  // namespace slimpipe
