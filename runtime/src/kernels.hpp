// Element-wise and row kernels of the encoder (OpenMP over rows). Float semantics follow LibTorch's CPU
// kernels where the order of operations changes results (fake quantization: x / T * 127, rounded half to even).
#pragma once

#include <cstdint>

namespace slimpipe_runtime::detail {

enum class Act { None, GeluErf, GeluTanh, Relu, Tanh };

// y[r] = LayerNorm(x[r] + residual[r]) over `cols`; residual may be null; y may alias x.
void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, double eps, float* y,
                std::int64_t rows, std::int64_t cols);
// In place on rows x cols with row stride ld: y = act(y + bias) (bias may be null).
void bias_act(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act);
// Rows of scores [rows, n]: add the additive key mask (0 or lowest float; one mask row of n per
// `rows_per_mask` rows), softmax in place, then fake-quantize with `threshold` when > 0.
void masked_softmax(float* scores, std::int64_t rows, std::int64_t n, const float* mask, std::int64_t rows_per_mask,
                    float threshold);
// Fake quantization in place of a [rows, cols] block with row stride ld: clip(rint(x / T * 127), -128, 127) / 127 * T.
void fake_quantize(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float threshold);
// q = clip(rint(x / T * 127), -128, 127) as int8, [rows, cols] contiguous.
void quantize_s8(const float* x, std::int8_t* q, std::int64_t n, float threshold);

}  // namespace slimpipe_runtime::detail
