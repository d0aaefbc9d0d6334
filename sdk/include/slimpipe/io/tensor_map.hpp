// Named tensors as checkpoint files store them: an ordered map from key to (CPU) tensor.
// Shared by the safetensors and pytorch_model.bin readers and the checkpoint loader.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace slimpipe::io {

using TensorMap = std::map<std::string, at::Tensor>;

}  // namespace slimpipe::io
