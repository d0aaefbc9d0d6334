// Element-wise and row kernels of the encoder (OpenMP over rows when the work is large enough). Float semantics
// follow LibTorch's CPU kernels where the order of operations changes results (fake quantization: x / T * 127,
// rounded half to even). Every kernel computes each row the same way whatever the thread count, so running it
// serially or in parallel gives bit-identical results.
#pragma once

#include <cstdint>

namespace slimpipe_runtime::detail {

enum class Act { None, GeluErf, GeluTanh, Relu, Tanh };

// The one threading rule of the runtime: OpenMP threads only, OpenBLAS single-threaded (called per thread on a
// slice), and a parallel region only for work worth it. A region costs a fork and a join barrier: microseconds on
// an idle machine, but on a loaded one every join waits until each thread of the team has been scheduled, and
// libgomp's default spin-wait burns the process's CPU share meanwhile (docs/runtime.md, "Threading").
constexpr std::int64_t kParallelMinElements = std::int64_t{1} << 15;  // element-wise work (weighted, see below)
constexpr std::int64_t kParallelMinMacs = std::int64_t{1} << 21;      // GEMM multiply-adds
// True when `work` (in the unit of `min_work`) should be split over the OpenMP threads: at least min_work, more
// than one thread allowed and not already inside a parallel region.
bool parallel_worth(std::int64_t work, std::int64_t min_work);
// Element-wise work of bias_act on n elements: transcendental activations count 8 per element.
std::int64_t act_work(std::int64_t n, Act act);

// y[r] = LayerNorm(x[r] + residual[r]) over `cols`; residual may be null; y may alias x.
void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, double eps, float* y,
                std::int64_t rows, std::int64_t cols);
// In place on rows x cols with row stride ld: y = act(y + bias) (bias may be null).
void bias_act(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act);
// The same on the calling thread only (for use inside a parallel region).
void bias_act_serial(float* y, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias, Act act);
// Rows of scores [rows, n]: add the additive key mask (0 or lowest float; one mask row of n per
// `rows_per_mask` rows), softmax in place, then fake-quantize with `threshold` when > 0.
void masked_softmax(float* scores, std::int64_t rows, std::int64_t n, const float* mask, std::int64_t rows_per_mask,
                    float threshold);
// The same on the calling thread only.
void masked_softmax_serial(float* scores, std::int64_t rows, std::int64_t n, const float* mask,
                           std::int64_t rows_per_mask, float threshold);
// INT8 attention: rows of scores [rows, n] get the key mask and softmax as masked_softmax does, and their
// probabilities' levels clip(rint(p / T * 127), 0, 127) go to `levels` [rows, n] (u8; p >= 0).
void masked_softmax_levels(float* scores, std::uint8_t* levels, std::int64_t rows, std::int64_t n, const float* mask,
                           std::int64_t rows_per_mask, float threshold);
// INT8 attention operands: the [b*s, heads*d] block x (row stride ld) quantized per head into [b, heads, s, d]
// contiguous levels: u8 = level + 128 when u8, else s8.
void quantize_heads(const float* x, std::int64_t ld, std::int64_t b, std::int64_t s, std::int64_t heads, std::int64_t d,
                    float threshold, std::int8_t* out, bool u8);
// Fake quantization in place of a [rows, cols] block with row stride ld: clip(rint(x / T * 127), -128, 127) / 127 * T.
void fake_quantize(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float threshold);
// IEEE binary16 bits to float (exact: every half is a float), n values.
void half_to_float(const std::uint16_t* h, float* out, std::int64_t n);
// q = clip(rint(x / T * 127), -128, 127) as int8, [rows, cols] contiguous.
void quantize_s8(const float* x, std::int8_t* q, std::int64_t n, float threshold);
// The same, or with u8 true the bytes of level + 128 (u8 with zero point 128).
void quantize_8bit(const float* x, std::int8_t* q, std::int64_t n, float threshold, bool u8);
// The same on the calling thread only.
void quantize_8bit_serial(const float* x, std::int8_t* q, std::int64_t n, float threshold, bool u8);

}  // namespace slimpipe_runtime::detail
