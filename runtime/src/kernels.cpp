#include "kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace slimpipe_runtime::detail {

namespace {
inline float quant_level(float x, float t) {
  const float q = std::nearbyint(x / t * 127.0f);
  return std::min(127.0f, std::max(-128.0f, q));
}

// f(r) for r in [0, rows): over the OpenMP threads when `work` reaches `min_work`, else on the calling thread
// (no parallel region at all: libgomp would still build a team of one for an `if(false)` region).
template <class F>
void for_rows(std::int64_t rows, std::int64_t work, std::int64_t min_work, F f) {
  if (parallel_worth(work, min_work)) {
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) f(r);
  } else {
    for (std::int64_t r = 0; r < rows; ++r) f(r);
  }
}

void bias_act_row(float* yr, std::int64_t cols, const float* bias, Act act) {
  const float kSqrtHalf = 0.70710678118654752440f;
  const float kTanhC = 0.79788456080286535588f;  // sqrt(2/pi)
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

void softmax_row(float* s, std::int64_t n, const float* m, float threshold) {
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

}  // namespace

bool parallel_worth(std::int64_t work, std::int64_t min_work) {
  return work >= min_work && omp_get_max_threads() > 1 && !omp_in_parallel();
}

std::int64_t act_work(std::int64_t n, Act act) {
  return (act == Act::GeluErf || act == Act::GeluTanh || act == Act::Tanh) ? 8 * n : n;
}

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, double eps, float* y,
                std::int64_t rows, std::int64_t cols) {
  for_rows(rows, 4 * rows * cols, kParallelMinElements, [=](std::int64_t r) {
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
  });
}

void bias_act(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act) {
  for_rows(rows, act_work(rows * cols, act), kParallelMinElements, [=](std::int64_t r) { bias_act_row(y + r * ld, cols, bias, act); });
}

void bias_act_serial(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act) {
  for (std::int64_t r = 0; r < rows; ++r) bias_act_row(y + r * ld, cols, bias, act);
}

void masked_softmax(float* scores, std::int64_t rows, std::int64_t n, const float* mask, std::int64_t rows_per_mask,
                    float threshold) {
  for_rows(rows, 8 * rows * n, kParallelMinElements, [=](std::int64_t r) {
    softmax_row(scores + r * n, n, mask ? mask + (r / rows_per_mask) * n : nullptr, threshold);
  });
}

void masked_softmax_serial(float* scores, std::int64_t rows, std::int64_t n, const float* mask, std::int64_t rows_per_mask,
                           float threshold) {
  for (std::int64_t r = 0; r < rows; ++r) softmax_row(scores + r * n, n, mask ? mask + (r / rows_per_mask) * n : nullptr, threshold);
}

void fake_quantize(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float threshold) {
  for_rows(rows, 2 * rows * cols, kParallelMinElements, [=](std::int64_t r) {
    float* xr = x + r * ld;
    for (std::int64_t c = 0; c < cols; ++c) xr[c] = quant_level(xr[c], threshold) / 127.0f * threshold;
  });
}

void quantize_s8(const float* x, std::int8_t* q, std::int64_t n, float threshold) {
  for_rows(n, 2 * n, kParallelMinElements, [=](std::int64_t i) { q[i] = static_cast<std::int8_t>(quant_level(x[i], threshold)); });
}

}  // namespace slimpipe_runtime::detail
