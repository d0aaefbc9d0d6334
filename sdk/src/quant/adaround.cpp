// AdaRound with analytic gradients: the reconstruction loss E||W x - W~ x^||^2 is a quadratic form in W~ over
// the input Gram matrices, so each Adam step needs one [out, in] x [in, in] product and no autograd.
#include "slimpipe/quant/adaround.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/quant/fake_quant.hpp"

namespace slimpipe::quant {

namespace {

// Rectified sigmoid stretch (the paper's zeta, gamma): h can reach exactly 0 and 1.
constexpr double kZeta = 1.1, kGamma = -0.1;
constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;

// The layer's reconstruction loss as a function of the quantized weight A = W~:
// L(A) = tr(W Gxx W^T) - 2 tr(W Gxh A^T) + tr(A Ghh A^T), Gxx = E[x x^T], Gxh = E[x x^^T], Ghh = E[x^ x^^T].
// The loss is a small difference of large terms, so it is evaluated in double; the gradient, which Adam
// normalises anyway, in float32.
struct Reconstruction {
  at::Tensor w_gxh, w_gxh_d;  // W Gxh, [out, in]: float32, double
  at::Tensor ghh, ghh_d;      // [in, in]
  double constant;            // tr(W Gxx W^T)

  double loss(const at::Tensor& a) const {
    at::Tensor ad = a.to(at::kDouble);
    return constant - 2 * (w_gxh_d * ad).sum().item<double>() + (at::mm(ad, ghh_d) * ad).sum().item<double>();
  }
  at::Tensor gradient(const at::Tensor& a) const { return 2 * (at::mm(a, ghh) - w_gxh); }
};

Reconstruction make_reconstruction(const at::Tensor& w, const at::Tensor& x, const at::Tensor& xq) {
  const double n = static_cast<double>(x.size(0));
  at::Tensor xd = x.to(at::kDouble), xqd = xq.to(at::kDouble), wd = w.to(at::kDouble);
  at::Tensor gxx = at::mm(xd.t(), xd) / n, gxh = at::mm(xd.t(), xqd) / n, ghh = at::mm(xqd.t(), xqd) / n;
  Reconstruction r;
  r.w_gxh_d = at::mm(wd, gxh);
  r.ghh_d = ghh;
  r.w_gxh = r.w_gxh_d.to(at::kFloat);
  r.ghh = ghh.to(at::kFloat);
  r.constant = (at::mm(wd, gxx) * wd).sum().item<double>();
  return r;
}

}  // namespace

AdaRoundResult adaround_weight(const at::Tensor& weight, const at::Tensor& inputs, const at::Tensor& thresholds,
                               const AdaRoundOptions& o) {
  if (weight.dim() != 2) throw Error("adaround: weight must be [out, in]");
  if (inputs.dim() != 2 || inputs.size(1) != weight.size(1) || inputs.size(0) == 0)
    throw Error("adaround: inputs must be [rows, " + std::to_string(weight.size(1)) + "] with rows > 0");
  if (thresholds.numel() != 1 && thresholds.numel() != weight.size(0))
    throw Error("adaround: thresholds must be per tensor or one per output channel (" + std::to_string(weight.size(0)) +
                ")");
  if (o.iterations < 1 || !(o.learning_rate > 0) || o.warmup < 0 || o.warmup >= 1)
    throw Error("adaround: iterations >= 1, learning_rate > 0 and warmup in [0, 1) required");

  const double b = static_cast<double>(quant_max(o.bits));
  at::Tensor w = weight.detach().to(at::kCPU, at::kFloat);
  at::Tensor x = inputs.detach().to(at::kCPU, at::kFloat);
  at::Tensor xq = o.input_threshold ? fake_quantize(x, *o.input_threshold) : x;
  const Reconstruction recon = make_reconstruction(w, x, xq);

  at::Tensor t = thresholds.detach().to(at::kCPU, at::kFloat).clamp_min(kMinThreshold);
  at::Tensor step = (thresholds.dim() == 0 ? t : t.reshape({-1, 1})) / b;  // s = T / B per row or scalar
  at::Tensor scaled = at::clamp(w / step, -b, b);
  at::Tensor floor_levels = at::floor(scaled);
  // V0 makes h(V0) the fractional part, so W~ starts equal to W (up to clipping).
  at::Tensor frac = scaled - floor_levels;
  at::Tensor v = -at::log((kZeta - kGamma) / (frac - kGamma) - 1.0);
  at::Tensor m = at::zeros_like(v), s2 = at::zeros_like(v);

  const auto warm = static_cast<std::int64_t>(o.warmup * static_cast<double>(o.iterations));
  for (std::int64_t it = 0; it < o.iterations; ++it) {
    at::Tensor sig = at::sigmoid(v);
    at::Tensor h_raw = sig * (kZeta - kGamma) + kGamma;
    at::Tensor h = at::clamp(h_raw, 0.0, 1.0);
    at::Tensor levels = floor_levels + h;
    at::Tensor a = at::clamp(levels, -b, b) * step;
    // dL/dh through W~ = s * clip(floor + h): zero where the level is clipped.
    at::Tensor grad_h = recon.gradient(a) * step * ((levels > -b) & (levels < b));
    if (it >= warm) {
      // Regulariser sum(1 - |2h - 1|^beta), beta annealed from beta_start to beta_end (cosine) after warm-up.
      const double r =
          static_cast<double>(it - warm) / static_cast<double>(std::max<std::int64_t>(1, o.iterations - warm));
      const double beta = o.beta_end + 0.5 * (o.beta_start - o.beta_end) * (1 + std::cos(M_PI * r));
      at::Tensor u = 2 * h - 1;
      grad_h = grad_h - o.reg_weight * 2 * beta * at::pow(u.abs(), beta - 1) * at::sign(u);
    }
    at::Tensor grad_v = grad_h * (kZeta - kGamma) * sig * (1 - sig) * ((h_raw > 0) & (h_raw < 1));
    // Adam with bias correction.
    m.mul_(kAdamBeta1).add_(grad_v, 1 - kAdamBeta1);
    s2.mul_(kAdamBeta2).addcmul_(grad_v, grad_v, 1 - kAdamBeta2);
    const double c1 = 1 - std::pow(kAdamBeta1, static_cast<double>(it + 1));
    const double c2 = 1 - std::pow(kAdamBeta2, static_cast<double>(it + 1));
    v.sub_(o.learning_rate * (m / c1) / ((s2 / c2).sqrt() + kAdamEps));
  }

  // Hard rounding: up where h(V) >= 0.5.
  at::Tensor h = at::clamp(at::sigmoid(v) * (kZeta - kGamma) + kGamma, 0.0, 1.0);
  at::Tensor levels = at::clamp(floor_levels + (h >= 0.5).to(at::kFloat), -b, b);

  AdaRoundResult result;
  result.weight.levels = levels.to(at::kChar);
  result.weight.thresholds = t.reshape(thresholds.sizes());
  result.weight.axis = thresholds.dim() == 0 ? -1 : 0;
  result.weight.bits = o.bits;
  result.adaround_loss = recon.loss(levels * step);
  at::Tensor nearest = at::clamp(at::round(w / step), -b, b);
  result.nearest_loss = recon.loss(nearest * step);
  return result;
}

}  // namespace slimpipe::quant
