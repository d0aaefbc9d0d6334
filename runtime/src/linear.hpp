// One Linear layer y = x W^T + b of the runtime, in one of two forms chosen at load:
// - fp32: W float [out, in] (mapped from weights.bin or dequantized int8), OpenBLAS sgemm or oneDNN matmul by
//   row count; an input threshold, if any, fake-quantizes the input first (a site quantized on one side only).
// - int8: s8 input (quantized with the site's input threshold) x s8 weights reordered for oneDNN once, s32
//   accumulation, per-output-channel scales T_in/127 * T_w[n]/127, then the bias and the activation as oneDNN
//   post-ops; the output is f32, or s8 for the next int8 Linear (requantized by a post-op).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels.hpp"

namespace slimpipe_runtime::detail {

struct LinearSpec {
  std::string site;
  std::int64_t in = 0, out = 0;
  const float* weight = nullptr;            // fp32 [out, in] (null when int8 levels are given)
  const std::int8_t* levels = nullptr;      // int8 [out, in]
  std::vector<float> weight_thresholds;     // per output channel (int8)
  const float* bias = nullptr;              // [out]
  float input_threshold = 0;                // 0: the input is not quantized
  Act act = Act::None;
  float output_threshold = 0;               // int8 only: > 0 writes the output as s8 with this threshold
  // Storage for weights built at load (concatenated Q/K/V, dequantized levels); the pointers above are
  // pointed at these when they are not empty.
  std::vector<float> own_weight, own_bias;
  std::vector<std::int8_t> own_levels;
};

class Linear {
 public:
  Linear(LinearSpec spec, const dnnl::engine& engine, std::int64_t onednn_fp32_min_rows);
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  bool int8() const { return int8_; }
  bool s8_output() const { return int8_ && spec_.output_threshold > 0; }
  const LinearSpec& spec() const { return spec_; }
  float input_threshold() const { return spec_.input_threshold; }

  // x: f32 [rows, in] (or xq: s8 [rows, in] already quantized with input_threshold), y: f32 [rows, ldy] or
  // yq: s8 [rows, out]. qbuf: s8 scratch of rows*in (int8 without xq); fbuf: f32 scratch of rows*in (fp32
  // with an input threshold).
  void forward(const float* x, const std::int8_t* xq, std::int64_t rows, float* y, std::int8_t* yq, std::int8_t* qbuf,
               float* fbuf, dnnl::stream& stream);

 private:
  struct Mems {
    dnnl::memory src, dst;
  };
  Mems& mems_for(std::int64_t rows, bool onednn_fp32);
  // Executes prim1_ (one thread, on the caller) for GEMMs below kParallelMinMacs, else prim_.
  void run_onednn(Mems& m, std::int64_t rows, void* src, void* dst, dnnl::stream& stream);

  LinearSpec spec_;
  bool int8_ = false;
  dnnl::engine engine_;
  std::int64_t onednn_rows_;
  std::vector<float> owned_weight_;  // fp32 weight when dequantized or concatenated
  dnnl::matmul prim_;                 // int8, or fp32 through oneDNN
  dnnl::matmul prim1_;                // the same created for one thread (small GEMMs); may be empty
  dnnl::memory weights_, bias_mem_, scratch_, scratch1_;  // both scratchpads share scratch_buf_
  std::vector<std::uint8_t> scratch_buf_;
  std::unordered_map<std::int64_t, Mems> mems_;
};

}  // namespace slimpipe_runtime::detail
