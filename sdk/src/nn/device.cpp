// Device names accepted on the command line and in pipelines.
// CUDA is checked up front: Debian's LibTorch is CPU-only, and the user should hear that in one line.
#include "slimpipe/nn/device.hpp"

#include <torch/cuda.h>

namespace slimpipe::nn {

c10::Device resolve_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw Error("device '" + name +
                  "' requested, but CUDA is not available (LibTorch without CUDA or no GPU); use 'cpu'");
    c10::Device device(c10::kCUDA);
    try {
      device = c10::Device(name);
    } catch (const std::exception&) {
      throw Error("device '" + name + "' is not a valid device name (expected cuda or cuda:N)");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count()))
      throw Error("device '" + name + "' requested, but only " + std::to_string(torch::cuda::device_count()) +
                  " CUDA device(s) are visible");
    return device;
  }
  throw Error("unknown device '" + name + "' (expected cpu, cuda or cuda:N)");
}

}  // namespace slimpipe::nn
