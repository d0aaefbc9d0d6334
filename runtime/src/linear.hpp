// One Linear layer y = x W^T + b of the runtime, in one of two forms chosen at load:
// - fp32: W float [out, in] (mapped from weights.bin or dequantized int8), through the runtime's own AVX-512
//   kernel (W packed at load), OpenBLAS sgemm, or (Kernels::OneDnn) a oneDNN matmul by row count; an input
//   threshold, if any, fake-quantizes the input first (a site quantized on one side only).
// - int8: 8-bit input (quantized with the site's input threshold) x s8 weights packed (own kernels) or reordered
//   for oneDNN once, s32 accumulation, per-output-channel scales T_in/127 * T_w[n]/127, then the bias and the
//   activation; the output is f32, or 8-bit for the next int8 Linear (requantized in the same pass).
#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "gemm.hpp"
#include "kernels.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::detail {

// Holds OpenMP at one thread while it lives (when `on`), restoring the previous count after: oneDNN fixes a
// primitive's thread count at creation, and its gemm driver also reads omp_get_max_threads() at execution, so a
// primitive too small for a parallel region is both created and run inside one of these.
class OneThreadScope {
 public:
  explicit OneThreadScope(bool on);
  ~OneThreadScope();
  OneThreadScope(const OneThreadScope&) = delete;
  OneThreadScope& operator=(const OneThreadScope&) = delete;

 private:
  int saved_ = 0;
};

// True when oneDNN picked one of its brgemm kernels (fixed shapes on AVX-512 and newer) for `pd`.
bool is_brgemm(const dnnl::primitive_desc_base& pd);

// Executes a oneDNN primitive through the C entry point (a plain argument array: no map built on our side).
// one_thread: the primitive was created for one thread, and oneDNN's gemm driver also reads
// omp_get_max_threads() at execution, so OpenMP is held at one thread around the call. Errors name `what`.
void execute_primitive(const dnnl::primitive& prim, dnnl::stream& stream, bool one_thread, const dnnl_exec_arg_t* args,
                       int nargs, const std::string& what);

struct LinearSpec {
  std::string site;
  std::int64_t in = 0, out = 0;
  const float* weight = nullptr;         // fp32 [out, in] (null when int8 levels are given)
  const std::int8_t* levels = nullptr;   // int8 [out, in]
  std::vector<float> weight_thresholds;  // per output channel (int8)
  const float* bias = nullptr;           // [out]
  float input_threshold = 0;             // 0: the input is not quantized
  Act act = Act::None;
  float output_threshold = 0;  // int8 only: > 0 writes the output as 8-bit with this threshold
  bool output_u8 = false;      // ... as u8 with zero point 128 (the next Linear's u8_input())
  // Storage for weights built at load (concatenated Q/K/V, dequantized levels); the pointers above are
  // pointed at these when they are not empty.
  std::vector<float> own_weight, own_bias;
  std::vector<std::int8_t> own_levels;
};

class Linear {
 public:
  Linear(LinearSpec spec, const dnnl::engine& engine, const Options& options);
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  bool int8() const { return int8_; }
  // No multiply-adds: no output features (the Q/K/V of a layer without heads, the first GEMM of an FFN of width
  // 0), or no input features (the output is the bias and the activation). Nothing is packed or given to oneDNN,
  // whose primitive creation cannot take a zero-sized dimension (oneDNN 2.6 divides by it).
  bool empty() const { return spec_.in == 0 || spec_.out == 0; }
  bool onednn() const { return onednn_; }
  bool own() const { return own_; }
  // INT8 inputs are u8 = level + 128 with oneDNN's source zero point 128 (VNNI multiplies u8 by s8 natively; the
  // integer result is identical), or s8 levels where oneDNN refuses zero points. Quantized buffers hold the
  // bytes of whichever this says.
  bool u8_input() const { return u8_; }
  bool s8_output() const { return int8_ && spec_.output_threshold > 0; }
  const LinearSpec& spec() const { return spec_; }
  float input_threshold() const { return spec_.input_threshold; }
  // The implementation of this layer's GEMMs: "own int8 avx512_vnni" (avx2, portable), "own fp32 avx512",
  // "openblas", oneDNN's name ("brg:avx512_core_vnni", "gemm:jit"), or "none" (empty()).
  const std::string& impl() const { return impl_; }

  // x: f32 [rows, in] (or xq: 8-bit [rows, in] already quantized with input_threshold), y: f32 [rows, out] or
  // yq: 8-bit [rows, out]. qbuf: 8-bit scratch of rows*in (int8 without xq); fbuf: f32 scratch of rows*in (fp32
  // with an input threshold). 8-bit inputs (xq, qbuf) are readable for 3 bytes past their end (gemm.hpp).
  void forward(const float* x, const std::int8_t* xq, std::int64_t rows, float* y, std::int8_t* yq, std::int8_t* qbuf,
               float* fbuf, dnnl::stream& stream);

 private:
  // One oneDNN matmul for a row count, created on first use and kept: fixed shapes let oneDNN pick its
  // brgemm kernels (runtime row counts only get the slower gemm driver), and the weight layout chosen at load
  // is the same for every row count. Small GEMMs get a primitive created for one thread.
  struct Prim {
    dnnl::matmul prim;
    dnnl::memory src, dst, scratch;
    bool one_thread = false;
  };
  // Load-time steps of the constructor.
  void dequantize_weight();                      // levels * T_w[n]/127 into own_weight, which becomes the weight
  std::vector<float> output_scales() const;      // int8: T_in/127 * T_w[n]/127 per output feature
  void pack_own(const std::string& isa_option);  // Kernels::Own: int8, or fp32 where AVX-512 has it; else OpenBLAS
  // Kernels::OneDnn: the matmul and weight layout for a typical row count, the weights placed (or reordered) in
  // that layout; fp32 stays on OpenBLAS when oneDNN has no brgemm kernel and the choice is automatic.
  void init_onednn();
  // attr_ for a source of u8 (zero point 128) or s8: output scales, bias, activation, 8-bit output.
  void set_attr(bool u8_src, const std::vector<float>& scales, const dnnl::memory::desc& bias_md);
  dnnl::matmul::primitive_desc reference_pd(const dnnl::memory::desc& user_w_md, const dnnl::memory::desc& bias_md,
                                            const std::vector<float>& scales);
  void place_weights(const dnnl::memory::desc& user_w_md);  // weights_ in weights_md_, from our [out, in]
  dnnl::matmul::primitive_desc make_pd(std::int64_t rows, const dnnl::memory::desc& weights) const;
  Prim& prim_for(std::int64_t rows);
  void run_onednn(std::int64_t rows, void* src, void* dst, dnnl::stream& stream);

  LinearSpec spec_;
  bool int8_ = false;
  bool u8_ = false;
  bool onednn_ = false;  // Kernels::OneDnn: int8, or fp32 through oneDNN (see Options::onednn_fp32_min_rows)
  bool own_ = false;     // the runtime's own kernels, B packed at load
  PackedB packed_;
  AlignedBytes packed_storage_;
  std::vector<float> scales_;  // int8: T_in/127 * T_w[n]/127
  dnnl::engine engine_;
  std::int64_t onednn_rows_;
  dnnl::primitive_attr attr_;
  dnnl::memory::desc weights_md_;
  dnnl::memory weights_, bias_mem_;
  std::vector<std::uint8_t> scratch_buf_;         // shared by every primitive of this layer (one runs at a time)
  std::unordered_map<std::int64_t, Prim> prims_;  // key: rows and the thread count at creation
  std::string impl_;
};

}  // namespace slimpipe_runtime::detail
