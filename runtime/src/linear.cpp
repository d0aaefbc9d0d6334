#include "linear.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::detail {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {

dnnl::algorithm eltwise_of(Act act) {
  switch (act) {
    case Act::GeluErf:
      return dnnl::algorithm::eltwise_gelu_erf;
    case Act::GeluTanh:
      return dnnl::algorithm::eltwise_gelu_tanh;
    case Act::Relu:
      return dnnl::algorithm::eltwise_relu;
    case Act::Tanh:
      return dnnl::algorithm::eltwise_tanh;
    case Act::None:
      break;
  }
  return dnnl::algorithm::undef;
}

// y[rows, N] = act(x[rows, K] W[N, K]^T + bias) through single-threaded OpenBLAS: one sgemm on the calling
// thread for small GEMMs, else one sgemm per OpenMP thread on a slice of the output features (or of the rows
// when there are few features), each thread applying bias and activation to its own slice.
void sgemm_bias_act(const float* x, const float* w, const float* bias, Act act, std::int64_t rows, std::int64_t N,
                    std::int64_t K, float* y) {
  auto block = [&](std::int64_t r0, std::int64_t r1, std::int64_t n0, std::int64_t n1) {
    if (r1 <= r0 || n1 <= n0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(r1 - r0), static_cast<int>(n1 - n0),
                static_cast<int>(K), 1.0f, x + r0 * K, static_cast<int>(K), w + n0 * K, static_cast<int>(K), 0.0f,
                y + r0 * N + n0, static_cast<int>(N));
    bias_act_serial(y + r0 * N + n0, r1 - r0, n1 - n0, N, bias ? bias + n0 : nullptr, act);
  };
  if (!parallel_worth(rows * N * K, kParallelMinMacs)) {
    block(0, rows, 0, N);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    if (N >= 64 * nt) {  // split the features in multiples of 16 (whole SIMD vectors)
      const std::int64_t chunk = (N / 16 + nt - 1) / nt * 16;
      block(0, rows, std::min(N, t * chunk), t + 1 == nt ? N : std::min(N, (t + 1) * chunk));
    } else {
      const std::int64_t chunk = (rows + nt - 1) / nt;
      block(std::min(rows, t * chunk), std::min(rows, (t + 1) * chunk), 0, N);
    }
  }
}

}  // namespace

Linear::Linear(LinearSpec spec, const dnnl::engine& engine, const Options& options)
    : spec_(std::move(spec)), engine_(engine), onednn_rows_(options.onednn_fp32_min_rows) {
  if (!spec_.own_weight.empty()) spec_.weight = spec_.own_weight.data();
  if (!spec_.own_bias.empty()) spec_.bias = spec_.own_bias.data();
  if (!spec_.own_levels.empty()) spec_.levels = spec_.own_levels.data();
  int8_ = spec_.levels != nullptr && spec_.input_threshold > 0 && !empty();
  // int8 weights without an input threshold (or an empty GEMM): run in fp32 on the dequantized weight, exactly
  // what the fake-quant forward computes.
  if (spec_.levels && !int8_) dequantize_weight();
  if (!int8_) spec_.output_threshold = 0;
  if (empty()) {  // forward() writes the bias and activation, or nothing: no kernel on any path
    impl_ = "none";
    return;
  }
  impl_ = "openblas";
  if (options.kernels == Kernels::Own) {
    pack_own(options.isa);
    return;
  }
  if (!int8_ && onednn_rows_ >= (std::int64_t{1} << 40)) return;
  init_onednn();
}

void Linear::dequantize_weight() {
  const std::int64_t K = spec_.in, N = spec_.out;
  spec_.own_weight.resize(static_cast<std::size_t>(N * K));
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < K; ++k)
      spec_.own_weight[n * K + k] = static_cast<float>(spec_.levels[n * K + k]) / 127.0f * spec_.weight_thresholds[n];
  spec_.weight = spec_.own_weight.data();
  spec_.levels = nullptr;
}

std::vector<float> Linear::output_scales() const {
  std::vector<float> scales(static_cast<std::size_t>(spec_.out));
  for (std::int64_t n = 0; n < spec_.out; ++n)
    scales[n] = spec_.input_threshold / 127.0f * (spec_.weight_thresholds[n] / 127.0f);
  return scales;
}

void Linear::pack_own(const std::string& isa_option) {
  const std::int64_t K = spec_.in, N = spec_.out;
  const OwnKernels own = own_kernels(isa_option);
  const GemmIsa isa = own.isa;
  if (int8_) {
    // u8 input (levels + 128) and, for an 8-bit output, u8 output for the next Linear, whatever the ISA.
    own_ = true;
    u8_ = true;
    scales_ = output_scales();
    packed_storage_ = AlignedBytes(packed_bytes(PackKind::I8, isa, K, N));
    packed_ = pack_i8(spec_.levels, true, K, K, N, isa, packed_storage_.data());
    impl_ = std::string("own int8 ") + gemm_isa_name(isa);
  } else if (own.fp32_avx512) {
    own_ = true;
    packed_storage_ = AlignedBytes(packed_bytes(PackKind::F32, isa, K, N));
    packed_ = pack_f32(spec_.weight, K, K, N, packed_storage_.data());
    impl_ = "own fp32 avx512";
  }
}

void Linear::init_onednn() {
  const std::int64_t K = spec_.in, N = spec_.out;
  const dnnl::memory::desc user_w_md({K, N}, int8_ ? dt::s8 : dt::f32, tag::ba);  // our [out, in] is oneDNN's "ba"
  const dnnl::memory::desc bias_md({1, N}, dt::f32, tag::ab);
  std::vector<float> scales;
  if (int8_) scales = output_scales();
  const dnnl::matmul::primitive_desc ref = reference_pd(user_w_md, bias_md, scales);
  const std::string ref_impl = ref.impl_info_str();
  // fp32 automatic choice (onednn_fp32_min_rows < 0): oneDNN where it has brgemm kernels for this CPU (faster than
  // OpenBLAS at every row count measured, bench/peers/gemm_bench), OpenBLAS otherwise.
  if (!int8_ && onednn_rows_ < 0 && !is_brgemm(ref)) return;
  onednn_ = true;
  impl_ = ref_impl;
  weights_md_ = ref.weights_desc();
  place_weights(user_w_md);
  bias_mem_ = dnnl::memory(bias_md, engine_, const_cast<float*>(spec_.bias));
}

// u8 input with zero point 128 where oneDNN takes it (tried first), else s8. An 8-bit output for a u8 reader is
// u8 with zero point 128: round-half-even(v + 128) = round-half-even(v) + 128 and the saturation bounds shift
// alike, so the bytes are the reader's levels + 128. The attribute is built anew for each try (dnnl::primitive_attr
// copies share one object).
void Linear::set_attr(bool u8_src, const std::vector<float>& scales, const dnnl::memory::desc& bias_md) {
  attr_ = dnnl::primitive_attr();
  attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (int8_) attr_.set_output_scales(2, scales);
  dnnl::post_ops ops;
  ops.append_binary(dnnl::algorithm::binary_add, bias_md);
  if (spec_.act != Act::None) ops.append_eltwise(1.0f, eltwise_of(spec_.act), 0.0f, 0.0f);
  if (s8_output()) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 127.0f / spec_.output_threshold, 0.0f);
  attr_.set_post_ops(ops);
  if (u8_src) attr_.set_zero_points(DNNL_ARG_SRC, 0, {128});
  if (s8_output() && spec_.output_u8) attr_.set_zero_points(DNNL_ARG_DST, 0, {128});
  u8_ = u8_src;
}

// The weight layout: what oneDNN wants for a typical row count (the same for every row count; checked when each
// primitive is created), else our own [out, in].
dnnl::matmul::primitive_desc Linear::reference_pd(const dnnl::memory::desc& user_w_md,
                                                  const dnnl::memory::desc& bias_md, const std::vector<float>& scales) {
  const std::int64_t K = spec_.in, N = spec_.out;
  dnnl::matmul::primitive_desc ref;
  std::string refusal;
  for (bool u8_src : int8_ ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
    set_attr(u8_src, scales, bias_md);
    for (const auto& w_md : {dnnl::memory::desc({K, N}, user_w_md.data_type(), tag::any), user_w_md}) {
      try {
        ref = make_pd(128, w_md);
        break;
      } catch (const dnnl::error& e) {
        refusal = e.what();
      }
    }
    if (ref) break;
  }
  if (!ref) throw Error(spec_.site + ": oneDNN has no matmul for this Linear (" + refusal + ")");
  return ref;
}

void Linear::place_weights(const dnnl::memory::desc& user_w_md) {
  void* user_ptr = int8_ ? static_cast<void*>(const_cast<std::int8_t*>(spec_.levels))
                         : static_cast<void*>(const_cast<float*>(spec_.weight));
  dnnl::memory user_w(user_w_md, engine_, user_ptr);
  if (weights_md_ == user_w_md) {
    weights_ = user_w;  // already in the primitive's layout: used in place
  } else {
    weights_ = dnnl::memory(weights_md_, engine_);
    dnnl::stream stream(engine_);
    dnnl::reorder(user_w, weights_).execute(stream, user_w, weights_);
    stream.wait();
  }
}

dnnl::matmul::primitive_desc Linear::make_pd(std::int64_t rows, const dnnl::memory::desc& weights) const {
  const std::int64_t K = spec_.in, N = spec_.out;
  dnnl::memory::desc src_md({rows, K}, int8_ ? (u8_ ? dt::u8 : dt::s8) : dt::f32, tag::ab);
  dnnl::memory::desc dst_md({rows, N}, s8_output() ? (spec_.output_u8 ? dt::u8 : dt::s8) : dt::f32, tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, weights, dst_md), attr_, engine_);
}

Linear::Prim& Linear::prim_for(std::int64_t rows) {
  const int threads = omp_get_max_threads();
  const std::int64_t key = rows * 4096 + std::min(threads, 4095);
  auto it = prims_.find(key);
  if (it != prims_.end()) return it->second;
  // A GEMM too small for a parallel region gets a primitive created (and run) with one OpenMP thread.
  Prim p;
  p.one_thread = !parallel_worth(rows * spec_.in * spec_.out, kParallelMinMacs);
  dnnl::matmul::primitive_desc pd;
  {
    OneThreadScope scope(p.one_thread);
    try {
      pd = make_pd(rows, weights_md_);
    } catch (const dnnl::error& e) {
      throw Error(spec_.site + ": oneDNN has no matmul for " + std::to_string(rows) +
                  " rows in the layout chosen at load (" + std::string(e.what()) + ")");
    }
    p.prim = dnnl::matmul(pd);
  }
  p.src = dnnl::memory(pd.src_desc(), engine_, DNNL_MEMORY_NONE);
  p.dst = dnnl::memory(pd.dst_desc(), engine_, DNNL_MEMORY_NONE);
  p.scratch = dnnl::memory(pd.scratchpad_desc(), engine_, DNNL_MEMORY_NONE);
  scratch_buf_.resize(std::max(scratch_buf_.size(), std::max<std::size_t>(pd.scratchpad_desc().get_size(), 64)));
  return prims_.emplace(key, std::move(p)).first->second;
}

void Linear::run_onednn(std::int64_t rows, void* src, void* dst, dnnl::stream& stream) {
  Prim& p = prim_for(rows);
  p.src.set_data_handle(src);
  p.dst.set_data_handle(dst);
  p.scratch.set_data_handle(scratch_buf_.data());
  const dnnl_exec_arg_t args[] = {
      {DNNL_ARG_SRC, p.src.get()},
      {DNNL_ARG_WEIGHTS, weights_.get()},
      {DNNL_ARG_DST, p.dst.get()},
      {DNNL_ARG_SCRATCHPAD, p.scratch.get()},
      {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, bias_mem_.get()},
  };
  execute_primitive(p.prim, stream, p.one_thread, args, 5, spec_.site);
}

OneThreadScope::OneThreadScope(bool on) : saved_(on ? omp_get_max_threads() : 0) {
  if (on) omp_set_num_threads(1);
}

OneThreadScope::~OneThreadScope() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

bool is_brgemm(const dnnl::primitive_desc_base& pd) { return std::string(pd.impl_info_str()).rfind("brg", 0) == 0; }

void execute_primitive(const dnnl::primitive& prim, dnnl::stream& stream, bool one_thread, const dnnl_exec_arg_t* args,
                       int nargs, const std::string& what) {
  dnnl_status_t status;
  {
    OneThreadScope scope(one_thread);
    status = dnnl_primitive_execute(prim.get(), stream.get(), nargs, args);
  }
  if (status != dnnl_success) dnnl::error::wrap_c_api(status, ("executing " + what).c_str());
}

void Linear::forward(const float* x, const std::int8_t* xq, std::int64_t rows, float* y, std::int8_t* yq,
                     std::int8_t* qbuf, float* fbuf, dnnl::stream& stream) {
  const std::int64_t K = spec_.in, N = spec_.out;
  // No output feature (all pruned away): nothing to write. No input feature: the output is the bias.
  if (rows == 0 || N == 0) return;
  if (K == 0) {
    for (std::int64_t r = 0; r < rows; ++r) std::memcpy(y + r * N, spec_.bias, sizeof(float) * N);
    bias_act(y, rows, N, N, nullptr, spec_.act);
    return;
  }
  if (int8_) {
    if (!xq) {
      quantize_8bit(x, qbuf, rows * K, spec_.input_threshold, u8_);
      xq = qbuf;
    }
    if (own_) {
      GemmOut o;
      o.scale = scales_.data();
      o.scale_per_col = true;
      o.bias = spec_.bias;
      o.act = spec_.act;
      if (s8_output()) {
        if (!spec_.output_u8)
          throw Error(spec_.site + ": the own int8 kernels write 8-bit outputs as u8 for a u8 reader");
        o.yq = reinterpret_cast<std::uint8_t*>(yq);
        o.ldyq = N;
        o.out_threshold = spec_.output_threshold;
      } else {
        o.y = y;
        o.ldy = N;
      }
      gemm_i8(reinterpret_cast<const std::uint8_t*>(xq), K, 128, rows, packed_, o,
              parallel_worth(rows * K * N, kParallelMinMacs));
      return;
    }
    run_onednn(rows, const_cast<std::int8_t*>(xq), s8_output() ? static_cast<void*>(yq) : static_cast<void*>(y),
               stream);
    return;
  }
  const float* in = x;
  if (spec_.input_threshold > 0) {  // a site quantized on its input only
    std::memcpy(fbuf, x, sizeof(float) * rows * K);
    fake_quantize(fbuf, rows, K, K, spec_.input_threshold);
    in = fbuf;
  }
  if (own_) {
    GemmOut o;
    o.bias = spec_.bias;
    o.act = spec_.act;
    o.y = y;
    o.ldy = N;
    gemm_f32(in, K, rows, packed_, o, parallel_worth(rows * K * N, kParallelMinMacs));
    return;
  }
  if (onednn_ && rows >= onednn_rows_) {
    run_onednn(rows, const_cast<float*>(in), y, stream);
    return;
  }
  sgemm_bias_act(in, spec_.weight, spec_.bias, spec_.act, rows, N, K, y);
}

}  // namespace slimpipe_runtime::detail
