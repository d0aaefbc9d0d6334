// libFuzzer target: model.safetensors through slimpipe::io::read_safetensors. Input: the file's bytes.
// A file that reads is written back and read again: the round trip must give the same tensors.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstring>

#include "fuzz_common.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/io/safetensors.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);
  (void)at::ones({2}, at::kFloat).sum().item<float>();  // LibTorch's one-time allocations, before leak checks
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = slimpipe_fuzz::write_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  try {
    slimpipe::io::TensorMap tensors = slimpipe::io::read_safetensors(file);
    const auto again_file = slimpipe_fuzz::scratch_dir() / "again.safetensors";
    slimpipe::io::write_safetensors(again_file, tensors);
    slimpipe::io::TensorMap again = slimpipe::io::read_safetensors(again_file);
    if (again.size() != tensors.size()) {
      std::fprintf(stderr, "fuzz_safetensors: %zu tensors read, %zu after a round trip\n", tensors.size(),
                   again.size());
      std::abort();
    }
    for (const auto& [name, t] : tensors) {
      auto it = again.find(name);
      const std::size_t bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
      const bool same = it != again.end() && it->second.scalar_type() == t.scalar_type() &&
                        it->second.sizes().equals(t.sizes()) &&
                        (bytes == 0 || std::memcmp(it->second.data_ptr(), t.data_ptr(), bytes) == 0);
      if (!same) {
        std::fprintf(stderr, "fuzz_safetensors: tensor '%s' differs after a round trip\n", name.c_str());
        std::abort();
      }
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_safetensors");
  }
  return 0;
}
