// Quantization sites: every Linear and attention MatMul passes its two operands through an optional hook.
// A hook sees the site name and operand and returns the tensor to use (e.g. fake-quantized).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

#include <functional>
#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe::nn {

// Operand numbering. Linear: 0 = input activation [.., in], 1 = weight [out, in].
// MatMul "<layer>.attention.self.qk": 0 = query [b, heads, seq, head_dim], 1 = key, same shape (not transposed).
// MatMul "<layer>.attention.self.pv": 0 = attention probs [b, heads, seq, seq], 1 = value [b, heads, seq, head_dim].
enum SiteOperand : int { kLeftOperand = 0, kRightOperand = 1 };

// Site names are module paths without a bert./ernie. prefix: "encoder.layer.3.attention.self.query",
// "encoder.layer.3.attention.self.qk", "pooler.dense", "classifier", "qa_outputs".
using SiteHook = std::function<at::Tensor(const std::string& site, int operand, const at::Tensor& value)>;

// Prefixes every site name the hook sees with `prefix` (modules name sites relative to themselves).
// An empty hook stays empty, so the unhooked path costs nothing.
SLIMPIPE_API SiteHook scoped(const SiteHook& hook, const std::string& prefix);

// y = x W^T + b with both operands routed through `hook` (site = `name`, relative to the scope).
SLIMPIPE_API at::Tensor hooked_linear(torch::nn::LinearImpl& linear, const at::Tensor& x, const SiteHook& hook,
                                      const std::string& name);
// The same with explicit operands, for a forward that uses part of a Linear (a narrowed weight/bias).
SLIMPIPE_API at::Tensor hooked_linear(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& x,
                                      const SiteHook& hook, const std::string& name);

}  // namespace slimpipe::nn
