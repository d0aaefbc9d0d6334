// Tensor shapes as error messages print them: "[64, 128]".
// Kept apart so io and nn errors read the same.
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::nn {

SLIMPIPE_API std::string shape_string(c10::IntArrayRef shape);
inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  return shape_string(c10::IntArrayRef(shape));
}

}  // namespace slimpipe::nn
