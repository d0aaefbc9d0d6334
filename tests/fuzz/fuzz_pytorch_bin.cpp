// libFuzzer target: pytorch_model.bin through slimpipe::io::read_pytorch_bin, both the zip format (torch >= 1.6,
// read with LibTorch's PyTorchStreamReader) and the legacy pickle stream. Input: the file's bytes.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "fuzz_common.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/io/pytorch_bin.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);
  (void)at::ones({2}, at::kFloat).sum().item<float>();  // LibTorch's one-time allocations, before leak checks
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = slimpipe_fuzz::write_file("pytorch_model.bin", {reinterpret_cast<const char*>(data), size});
  try {
    slimpipe::io::TensorMap tensors = slimpipe::io::read_pytorch_bin(file);
    for (const auto& [name, t] : tensors) {
      // Every tensor owns compact CPU memory that can be read whole.
      if (!t.is_contiguous() || t.device() != at::kCPU) {
        std::fprintf(stderr, "fuzz_pytorch_bin: tensor '%s' is not a contiguous CPU tensor\n", name.c_str());
        std::abort();
      }
      volatile unsigned char sink = 0;
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      const std::size_t n = static_cast<std::size_t>(t.numel()) * t.element_size();
      for (std::size_t i = 0; i < n; ++i) sink = sink ^ p[i];
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_pytorch_bin");
  }
  return 0;
}
