#include "kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace slimpipe_runtime::detail {

// The row kernels are built for several instruction sets (GCC target_clones: AVX-512, AVX2, baseline x86-64) and
// dispatched once at load by the CPU; their loops are written so that the compiler vectorizes them: rounding by
// the 1.5·2^23 trick instead of a libm call, exp by a polynomial, float accumulation.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SLIMPIPE_RT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SLIMPIPE_RT_CLONES
#endif

namespace {

// Round half to even of |v| < 2^22 in the default rounding mode, as one add and one subtract (vectorizable; the
// compiler may not fold it: no -ffast-math here).
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// clip(rint(x / T * 127), -128, 127), as quant::fake_quantize computes it: clipping before rounding gives the same
// level because the bounds are integers.
inline float quant_level(float x, float t) {
  const float v = x / t * 127.0f;
  return round_even(std::min(127.0f, std::max(-128.0f, v)));
}

// e^x for x <= 0 (softmax after subtracting the max): Cody-Waite range reduction and a degree-6 Taylor
// polynomial on |r| <= ln2/2, relative error below 2e-7. Inputs below -87 (masked keys: the mask adds the lowest
// float) give e^-87 ~ 1.6e-38 instead of 0, which no sum or quantization level can see; keeping the loop free of
// branches lets the compiler vectorize it.
inline float exp_nonpositive(float x) {
  const float xc = std::max(x, -87.0f);
  const float n = round_even(xc * 1.44269504088896341f);
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // max(-127, n) is -127 for a NaN n (a NaN in the model's weights or activations): converting NaN to an integer is
  // undefined; scale is then 0 and p * scale stays NaN.
  std::int32_t bits = (static_cast<std::int32_t>(std::max(-127.0f, n)) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7), branch-free so that the activation loops
// vectorize (std::erf is a scalar libm call: GELU on a BERT-base FFN at batch 1 is 4.7 M of them per run).
inline float erf_poly(float z) {
  const float a = std::fabs(z);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly =
      t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return std::copysign(1.0f - poly * exp_nonpositive(-a * a), z);
}

// tanh from e^(-2|x|) (absolute error about 1e-7), branch-free like erf_poly.
inline float tanh_exp(float x) {
  const float e = exp_nonpositive(-2.0f * std::fabs(x));
  return std::copysign((1.0f - e) / (1.0f + e), x);
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

}  // namespace

SLIMPIPE_RT_CLONES void bias_act_row(float* yr, std::int64_t cols, const float* bias, Act act) {
  const float kSqrtHalf = 0.70710678118654752440f;
  const float kTanhC = 0.79788456080286535588f;  // sqrt(2/pi)
  if (bias)
    for (std::int64_t c = 0; c < cols; ++c) yr[c] += bias[c];
  switch (act) {
    case Act::None:
      break;
    case Act::GeluErf:
      for (std::int64_t c = 0; c < cols; ++c) yr[c] = yr[c] * 0.5f * (1.0f + erf_poly(yr[c] * kSqrtHalf));
      break;
    case Act::GeluTanh:
      for (std::int64_t c = 0; c < cols; ++c) {
        const float v = yr[c];
        yr[c] = 0.5f * v * (1.0f + tanh_exp(kTanhC * (v + 0.044715f * v * v * v)));
      }
      break;
    case Act::Relu:
      for (std::int64_t c = 0; c < cols; ++c) yr[c] = std::max(yr[c], 0.0f);
      break;
    case Act::Tanh:
      for (std::int64_t c = 0; c < cols; ++c) yr[c] = tanh_exp(yr[c]);
      break;
  }
}

SLIMPIPE_RT_CLONES void softmax_row(float* s, std::int64_t n, const float* m, float threshold) {
  if (m)
    for (std::int64_t j = 0; j < n; ++j) s[j] += m[j];
  // OpenMP simd reductions: the compiler may reorder these sums and maxima (it may not without -ffast-math).
  float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
  for (std::int64_t j = 0; j < n; ++j) mx = mx > s[j] ? mx : s[j];
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t j = 0; j < n; ++j) {
    s[j] = exp_nonpositive(s[j] - mx);
    sum += s[j];
  }
  const float inv = 1.0f / sum;
  for (std::int64_t j = 0; j < n; ++j) s[j] *= inv;
  if (threshold > 0)
    for (std::int64_t j = 0; j < n; ++j) s[j] = quant_level(s[j], threshold) / 127.0f * threshold;
}

SLIMPIPE_RT_CLONES void layer_norm_row(const float* xr, const float* rr, const float* gamma, const float* beta,
                                       float eps, float* yr, std::int64_t cols) {
  float sum = 0;
  if (rr) {
#pragma omp simd reduction(+ : sum)
    for (std::int64_t c = 0; c < cols; ++c) {
      yr[c] = xr[c] + rr[c];
      sum += yr[c];
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (std::int64_t c = 0; c < cols; ++c) {
      yr[c] = xr[c];
      sum += yr[c];
    }
  }
  const float mean = sum / static_cast<float>(cols);
  float var = 0;
#pragma omp simd reduction(+ : var)
  for (std::int64_t c = 0; c < cols; ++c) {
    const float d = yr[c] - mean;
    var += d * d;
  }
  var /= static_cast<float>(cols);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (std::int64_t c = 0; c < cols; ++c) yr[c] = (yr[c] - mean) * inv * gamma[c] + beta[c];
}

SLIMPIPE_RT_CLONES void fake_quantize_row(float* xr, std::int64_t cols, float threshold) {
  for (std::int64_t c = 0; c < cols; ++c) xr[c] = quant_level(xr[c], threshold) / 127.0f * threshold;
}

SLIMPIPE_RT_CLONES void quantize_row(const float* x, std::int8_t* q, std::int64_t n, float threshold) {
  for (std::int64_t i = 0; i < n; ++i)
    q[i] = static_cast<std::int8_t>(static_cast<std::int32_t>(quant_level(x[i], threshold)));
}

SLIMPIPE_RT_CLONES void quantize_row_u8(const float* x, std::uint8_t* q, std::int64_t n, float threshold) {
  for (std::int64_t i = 0; i < n; ++i)
    q[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(quant_level(x[i], threshold)) + 128);
}

bool parallel_worth(std::int64_t work, std::int64_t min_work) {
  return work >= min_work && omp_get_max_threads() > 1 && !omp_in_parallel();
}

std::int64_t act_work(std::int64_t n, Act act) {
  return (act == Act::GeluErf || act == Act::GeluTanh || act == Act::Tanh) ? 8 * n : n;
}

void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, double eps, float* y,
                std::int64_t rows, std::int64_t cols) {
  const float feps = static_cast<float>(eps);
  for_rows(rows, 4 * rows * cols, kParallelMinElements, [=](std::int64_t r) {
    layer_norm_row(x + r * cols, residual ? residual + r * cols : nullptr, gamma, beta, feps, y + r * cols, cols);
  });
}

void bias_act(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act) {
  for_rows(rows, act_work(rows * cols, act), kParallelMinElements,
           [=](std::int64_t r) { bias_act_row(y + r * ld, cols, bias, act); });
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

void masked_softmax_serial(float* scores, std::int64_t rows, std::int64_t n, const float* mask,
                           std::int64_t rows_per_mask, float threshold) {
  for (std::int64_t r = 0; r < rows; ++r)
    softmax_row(scores + r * n, n, mask ? mask + (r / rows_per_mask) * n : nullptr, threshold);
}

void masked_softmax_levels(float* scores, std::uint8_t* levels, std::int64_t rows, std::int64_t n, const float* mask,
                           std::int64_t rows_per_mask, float threshold) {
  for_rows(rows, 10 * rows * n, kParallelMinElements, [=](std::int64_t r) {
    softmax_row(scores + r * n, n, mask ? mask + (r / rows_per_mask) * n : nullptr, 0.0f);
    // p >= 0, so its level is in [0, 127]: the same byte as u8 and as s8.
    quantize_row(scores + r * n, reinterpret_cast<std::int8_t*>(levels + r * n), n, threshold);
  });
}

void quantize_heads(const float* x, std::int64_t ld, std::int64_t b, std::int64_t s, std::int64_t heads, std::int64_t d,
                    float threshold, std::int8_t* out, bool u8) {
  const std::int64_t rows = b * s;
  for_rows(rows, 2 * rows * heads * d, kParallelMinElements, [=](std::int64_t t) {
    const std::int64_t bi = t / s, si = t % s;
    for (std::int64_t h = 0; h < heads; ++h) {
      std::int8_t* dst = out + ((bi * heads + h) * s + si) * d;
      if (u8)
        quantize_row_u8(x + t * ld + h * d, reinterpret_cast<std::uint8_t*>(dst), d, threshold);
      else
        quantize_row(x + t * ld + h * d, dst, d, threshold);
    }
  });
}

void fake_quantize(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float threshold) {
  for_rows(rows, 2 * rows * cols, kParallelMinElements,
           [=](std::int64_t r) { fake_quantize_row(x + r * ld, cols, threshold); });
}

void quantize_s8(const float* x, std::int8_t* q, std::int64_t n, float threshold) {
  quantize_8bit(x, q, n, threshold, false);
}

void quantize_8bit_serial(const float* x, std::int8_t* q, std::int64_t n, float threshold, bool u8) {
  if (u8)
    quantize_row_u8(x, reinterpret_cast<std::uint8_t*>(q), n, threshold);
  else
    quantize_row(x, q, n, threshold);
}

void quantize_8bit(const float* x, std::int8_t* q, std::int64_t n, float threshold, bool u8) {
  constexpr std::int64_t kChunk = 4096;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  for_rows(chunks, 2 * n, kParallelMinElements, [=](std::int64_t i) {
    const std::int64_t a = i * kChunk;
    if (u8)
      quantize_row_u8(x + a, reinterpret_cast<std::uint8_t*>(q) + a, std::min(kChunk, n - a), threshold);
    else
      quantize_row(x + a, q + a, std::min(kChunk, n - a), threshold);
  });
}

SLIMPIPE_RT_CLONES void half_to_float(const std::uint16_t* h, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h[i] & 0x8000u) << 16;
    const std::uint32_t exp = (h[i] >> 10) & 0x1fu, man = h[i] & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0x1fu) {
      bits = sign | 0x7f800000u | (man << 13);  // inf, nan
    } else if (exp != 0) {
      bits = sign | ((exp + 112u) << 23) | (man << 13);  // normal: rebias 15 -> 127
    } else {
      const float f = static_cast<float>(man) * 5.9604644775390625e-8f;  // subnormal or zero: man * 2^-24
      std::memcpy(&bits, &f, sizeof bits);
      bits |= sign;
    }
    std::memcpy(out + i, &bits, sizeof bits);
  }
}

}  // namespace slimpipe_runtime::detail
