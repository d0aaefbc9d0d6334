// Device selection for models and tensors: "cpu", or "cuda[:N]" when LibTorch sees a GPU.
// Anything else is a one-line Error instead of a LibTorch assertion deep in a forward pass.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::nn {

SLIMPIPE_API c10::Device resolve_device(const std::string& name);

}  // namespace slimpipe::nn
