// Hook plumbing shared by every module that owns a quantization site.
// Scoping builds names lazily, so an unset hook allocates nothing per forward.
#include "slimpipe/nn/hooks.hpp"

#include <ATen/ATen.h>

namespace slimpipe::nn {

SiteHook scoped(const SiteHook& hook, const std::string& prefix) {
  if (!hook) return {};
  return [hook, prefix](const std::string& site, int operand, const at::Tensor& value) {
    return hook(prefix + site, operand, value);
  };
}

at::Tensor hooked_linear(torch::nn::LinearImpl& linear, const at::Tensor& x, const SiteHook& hook,
                         const std::string& name) {
  if (!hook) return at::linear(x, linear.weight, linear.bias);
  at::Tensor in = hook(name, kLeftOperand, x);
  at::Tensor w = hook(name, kRightOperand, linear.weight);
  return at::linear(in, w, linear.bias);
}

at::Tensor hooked_linear(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& x, const SiteHook& hook,
                         const std::string& name) {
  if (!hook) return at::linear(x, weight, bias);
  return at::linear(hook(name, kLeftOperand, x), hook(name, kRightOperand, weight), bias);
}

}  // namespace slimpipe::nn
