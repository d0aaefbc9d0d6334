// A SiteHook that runs a model as its int8 deployment would compute it: fake-quantized activation operands
// and dequantized int8 weights, per site. Operands the plan does not name pass through (skip lists).
#pragma once

#include <map>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/hooks.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"

namespace slimpipe::quant {

struct SLIMPIPE_API FakeQuantPlan {
  std::map<SiteOperandKey, double> activation_thresholds;  // per-tensor T per activation operand
  std::map<std::string, QuantizedWeight> weights;          // per Linear site: replaces operand 1
  FakeQuantOptions options;                                // activation qdq range
};

// Dequantizes each weight once, up front; the hook then costs one qdq per listed activation operand.
SLIMPIPE_API nn::SiteHook make_fake_quant_hook(const FakeQuantPlan& plan);

}  // namespace slimpipe::quant
