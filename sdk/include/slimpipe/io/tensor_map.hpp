// Named tensors as checkpoint files store them: an ordered map from key to (CPU) tensor.
// Shared by the safetensors and pytorch_model.bin readers and the checkpoint loader.
#pragma once

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

namespace slimpipe::io {

using TensorMap = std::map<std::string, at::Tensor>;

}  // namespace slimpipe::io
