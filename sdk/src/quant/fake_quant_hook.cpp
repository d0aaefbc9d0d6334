// The fake-quantization SiteHook: dequantized weights are computed once and shared by every forward.
#include "slimpipe/quant/fake_quant_hook.hpp"

#include <ATen/ATen.h>

#include <memory>

namespace slimpipe::quant {

nn::SiteHook make_fake_quant_hook(const FakeQuantPlan& plan) {
  auto weights = std::make_shared<std::map<std::string, at::Tensor>>();
  for (const auto& [site, q] : plan.weights) (*weights)[site] = q.dequantize();
  auto thresholds = std::make_shared<const std::map<SiteOperandKey, double>>(plan.activation_thresholds);
  const FakeQuantOptions options = plan.options;
  return [weights, thresholds, options](const std::string& site, int operand, const at::Tensor& value) {
    if (operand == nn::kRightOperand) {
      auto w = weights->find(site);
      if (w != weights->end()) return w->second.to(value.device(), value.scalar_type());
    }
    auto t = thresholds->find({site, operand});
    if (t == thresholds->end()) return value;
    return fake_quantize(value, t->second, options);
  };
}

}  // namespace slimpipe::quant
