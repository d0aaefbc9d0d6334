// Shape formatting for one-line errors.
// "[]" is a scalar, as PyTorch prints torch.Size([]).
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::nn {

std::string shape_string(c10::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace slimpipe::nn
