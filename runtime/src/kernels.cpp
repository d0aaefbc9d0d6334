#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace slimpipe_runtime::detail {

namespace {
inline float quant_level(float x, float t) {
  const float q = std::nearbyint(x / t * 127.0f);
  return std::min(127.0f, std::max(-128.0f, q));
}
}  // namespace

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, double eps, float* y,
                std::int64_t rows, std::int64_t cols) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* rr = residual ? residual + r * cols : nullptr;
    float* yr = y + r * cols;
    double sum = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const float v = rr ? xr[c] + rr[c] : xr[c];
      yr[c] = v;
      sum += v;
    }
    const double mean = sum / static_cast<double>(cols);
    double var = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const double d = yr[c] - mean;
      var += d * d;
    }
    var /= static_cast<double>(cols);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (std::int64_t c = 0; c < cols; ++c) yr[c] = (yr[c] - m) * inv * gamma[c] + beta[c];
  }
}

void bias_act(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act) {
  const float kSqrtHalf = 0.70710678118654752440f;
  const float kTanhC = 0.79788456080286535588f;  // sqrt(2/pi)
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * ld;
    if (bias)
      for (std::int64_t c = 0; c < cols; ++c) yr[c] += bias[c];
    switch (act) {
      case Act::None: break;
      case Act::GeluErf:
        for (std::int64_t c = 0; c < cols; ++c) yr[c] = yr[c] * 0.5f * (1.0f + std::erf(yr[c] * kSqrtHalf));
        break;
      case Act::GeluTanh:
        for (std::int64_t c = 0; c < cols; ++c) {
          const float v = yr[c];
          yr[c] = 0.5f * v * (1.0f + std::tanh(kTanhC * (v + 0.044715f * v * v * v)));
        }
        break;
      case Act::Relu:
        for (std::int64_t c = 0; c < cols; ++c) yr[c] = std::max(yr[c], 0.0f);
        break;
      case Act::Tanh:
        for (std::int64_t c = 0; c < cols; ++c) yr[c] = std::tanh(yr[c]);
        break;
    }
  }
}

void masked_softmax(float* scores, std::int64_t rows, std::int64_t n, const float* mask, std::int64_t rows_per_mask,
                    float threshold) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* s = scores + r * n;
    const float* m = mask ? mask + (r / rows_per_mask) * n : nullptr;
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < n; ++j) {
      if (m) s[j] += m[j];
      mx = std::max(mx, s[j]);
    }
    float sum = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      s[j] = std::exp(s[j] - mx);
      sum += s[j];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t j = 0; j < n; ++j) s[j] *= inv;
    if (threshold > 0)
      for (std::int64_t j = 0; j < n; ++j) s[j] = quant_level(s[j], threshold) / 127.0f * threshold;
  }
}

void fake_quantize(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float threshold) {
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * ld;
    for (std::int64_t c = 0; c < cols; ++c) xr[c] = quant_level(xr[c], threshold) / 127.0f * threshold;
  }
}

void quantize_s8(const float* x, std::int8_t* q, std::int64_t n, float threshold) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) q[i] = static_cast<std::int8_t>(quant_level(x[i], threshold));
}

}  // namespace slimpipe_runtime::detail
