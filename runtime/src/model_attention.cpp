// The attention of one layer (model_impl.hpp): scores, masked softmax and context, in float through OpenBLAS per
// (sequence, head), or in INT8 through oneDNN's batched u8 x s8 matmuls or the own integer kernels.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.hpp"
#include "model_impl.hpp"

namespace slimpipe_runtime {

void Model::Impl::attention(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld,
                            std::int64_t b, std::int64_t s) {
  const std::int64_t d = info.head_dim, h = L.heads;
  const float alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  auto task = [&](std::int64_t i, float* sc) {
    const std::int64_t bi = i / h, hi = i % h;
    const std::int64_t off = bi * s * ld + hi * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(s), int(s), int(d), alpha, qp + off, int(ld), kp + off,
                int(ld), 0.0f, sc, int(s));
    detail::masked_softmax_serial(sc, s, s, mask.data() + bi * s, s, L.t_p);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s), int(d), int(s), 1.0f, sc, int(s), vp + off, int(ld),
                0.0f, ctx.data() + bi * s * L.all + hi * d, int(L.all));
  };
  const std::int64_t tasks = b * h;
  if (detail::parallel_worth(tasks * 2 * s * s * d, detail::kParallelMinMacs)) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < tasks; ++i) task(i, scores.data() + omp_get_thread_num() * s * s);
  } else {
    for (std::int64_t i = 0; i < tasks; ++i) task(i, scores.data());
  }
}

AttnPrims& Model::Impl::attn_prims(Layer& L, std::int64_t b, std::int64_t s) {
  const int threads = omp_get_max_threads();
  const std::int64_t key = (b * 8192 + s) * 4096 + std::min(threads, 4095);
  auto it = L.attn.find(key);
  if (it != L.attn.end()) return it->second;
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const std::int64_t h = L.heads, d = info.head_dim, all = L.all;
  AttnPrims p;
  // As for Linear: a primitive too small for a parallel region is created (and run) with one OpenMP thread.
  p.one_thread = !detail::parallel_worth(2 * b * h * s * s * d, detail::kParallelMinMacs);
  const dnnl::memory::desc q_md({b, h, s, d}, dt::u8, tag::abcd);
  const dnnl::memory::desc kt_md({b, h, d, s}, dt::s8,
                                 dnnl::memory::dims{h * s * d, s * d, 1, d});  // K [b,h,s,d] read as Kᵀ
  const dnnl::memory::desc sc_md({b, h, s, s}, dt::f32, tag::abcd);
  const dnnl::memory::desc p_md({b, h, s, s}, dt::u8, tag::abcd);
  const dnnl::memory::desc v_md({b, h, s, d}, dt::s8, tag::abcd);
  const dnnl::memory::desc c_md({b, h, s, d}, dt::f32, dnnl::memory::dims{s * all, d, all, 1});  // ctx [b*s, all]
  const float alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  dnnl::primitive_attr qa, pa;
  qa.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  qa.set_output_scales(0, {alpha * (L.t_q / 127.0f) * (L.t_k / 127.0f)});
  qa.set_zero_points(DNNL_ARG_SRC, 0, {128});
  pa.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  pa.set_output_scales(0, {(L.t_p / 127.0f) * (L.t_v / 127.0f)});
  try {
    detail::OneThreadScope scope(p.one_thread);
    dnnl::matmul::primitive_desc qk_pd(dnnl::matmul::desc(q_md, kt_md, sc_md), qa, engine);
    dnnl::matmul::primitive_desc pv_pd(dnnl::matmul::desc(p_md, v_md, c_md), pa, engine);
    p.qk = dnnl::matmul(qk_pd);
    p.pv = dnnl::matmul(pv_pd);
    p.brgemm = detail::is_brgemm(qk_pd) && detail::is_brgemm(pv_pd);
    p.scratch = dnnl::memory(
        dnnl::memory::desc(
            {std::max<std::int64_t>(64, static_cast<std::int64_t>(std::max(qk_pd.scratchpad_desc().get_size(),
                                                                           pv_pd.scratchpad_desc().get_size())))},
            dt::u8, tag::a),
        engine, DNNL_MEMORY_NONE);
  } catch (const dnnl::error& e) {
    throw Error("encoder layer attention: oneDNN has no INT8 matmul for batch " + std::to_string(b) + ", seq " +
                std::to_string(s) + " (" + std::string(e.what()) + ")");
  }
  p.q = dnnl::memory(q_md, engine, DNNL_MEMORY_NONE);
  p.k = dnnl::memory(kt_md, engine, DNNL_MEMORY_NONE);
  p.scores = dnnl::memory(sc_md, engine, DNNL_MEMORY_NONE);
  p.p = dnnl::memory(p_md, engine, DNNL_MEMORY_NONE);
  p.v = dnnl::memory(v_md, engine, DNNL_MEMORY_NONE);
  p.ctx = dnnl::memory(c_md, engine, DNNL_MEMORY_NONE);
  grow(att_scratch, static_cast<std::int64_t>(p.scratch.get_desc().get_size()));
  return L.attn.emplace(key, std::move(p)).first->second;
}

void Model::Impl::quantize_attention_operands(const Layer& L, const float* qp, const float* kp, const float* vp,
                                              std::int64_t ld, std::int64_t b, std::int64_t s) {
  const std::int64_t h = L.heads, d = info.head_dim, n = b * h * s * d;
  grow(att_q, n + 64);
  grow(att_k, n);
  grow(att_v, n);
  detail::quantize_heads(qp, ld, b, s, h, d, L.t_q, att_q.data(), true);
  detail::quantize_heads(kp, ld, b, s, h, d, L.t_k, att_k.data(), false);
  detail::quantize_heads(vp, ld, b, s, h, d, L.t_v, att_v.data(), false);
}

void Model::Impl::attention_int8(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld,
                                 std::int64_t b, std::int64_t s) {
  const std::int64_t h = L.heads;
  quantize_attention_operands(L, qp, kp, vp, ld, b, s);
  grow(att_p, b * h * s * s);
  grow(att_scores, b * h * s * s);
  AttnPrims& P = attn_prims(L, b, s);
  P.q.set_data_handle(att_q.data());
  P.k.set_data_handle(att_k.data());
  P.scores.set_data_handle(att_scores.data());
  P.p.set_data_handle(att_p.data());
  P.v.set_data_handle(att_v.data());
  P.ctx.set_data_handle(ctx.data());
  P.scratch.set_data_handle(att_scratch.data());
  const dnnl_exec_arg_t qk_args[] = {{DNNL_ARG_SRC, P.q.get()},
                                     {DNNL_ARG_WEIGHTS, P.k.get()},
                                     {DNNL_ARG_DST, P.scores.get()},
                                     {DNNL_ARG_SCRATCHPAD, P.scratch.get()}};
  detail::execute_primitive(P.qk, stream, P.one_thread, qk_args, 4, "attention Q.K^T");
  detail::masked_softmax_levels(att_scores.data(), att_p.data(), b * h * s, s, mask.data(), h * s, L.t_p);
  const dnnl_exec_arg_t pv_args[] = {{DNNL_ARG_SRC, P.p.get()},
                                     {DNNL_ARG_WEIGHTS, P.v.get()},
                                     {DNNL_ARG_DST, P.ctx.get()},
                                     {DNNL_ARG_SCRATCHPAD, P.scratch.get()}};
  detail::execute_primitive(P.pv, stream, P.one_thread, pv_args, 4, "attention P.V");
}

void Model::Impl::attention_int8_own(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld,
                                     std::int64_t b, std::int64_t s) {
  const std::int64_t h = L.heads, d = info.head_dim, all = L.all;
  const std::int64_t slots = std::max(1, omp_get_max_threads());
  const std::size_t kbytes = detail::packed_bytes(detail::PackKind::I8, isa, d, s),
                    slot_bytes = kbytes + detail::packed_bytes(detail::PackKind::I8, isa, s, d);
  grow(att_p, slots * s * s + 64);
  grow(att_scores, slots * s * s);
  grow(att_pack, static_cast<std::int64_t>(slots * slot_bytes + 64));
  auto* pack_base = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(att_pack.data()) + 63) / 64 * 64);
  quantize_attention_operands(L, qp, kp, vp, ld, b, s);
  const float alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float qk_scale = alpha * (L.t_q / 127.0f) * (L.t_k / 127.0f), pv_scale = (L.t_p / 127.0f) * (L.t_v / 127.0f);
  auto task = [&](std::int64_t i, std::int64_t slot) {
    const std::int64_t bi = i / h, hi = i % h;
    std::byte* pack = pack_base + static_cast<std::size_t>(slot) * slot_bytes;
    float* scores_i = att_scores.data() + slot * s * s;
    std::uint8_t* probs = att_p.data() + slot * s * s;
    const detail::PackedB keys = detail::pack_i8(att_k.data() + i * s * d, true, d, d, s, isa, pack);
    detail::GemmOut qk;
    qk.scale = &qk_scale;
    qk.y = scores_i;
    qk.ldy = s;
    detail::gemm_i8(reinterpret_cast<const std::uint8_t*>(att_q.data()) + i * s * d, d, 128, s, keys, qk, false);
    detail::masked_softmax_levels(scores_i, probs, s, s, mask.data() + bi * s, s, L.t_p);
    const detail::PackedB values = detail::pack_i8(att_v.data() + i * s * d, false, d, s, d, isa, pack + kbytes);
    detail::GemmOut pv;
    pv.scale = &pv_scale;
    pv.y = ctx.data() + bi * s * all + hi * d;
    pv.ldy = all;
    detail::gemm_i8(probs, s, 0, s, values, pv, false);
  };
  const std::int64_t tasks = b * h;
  if (detail::parallel_worth(2 * tasks * s * s * d, detail::kParallelMinMacs)) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < tasks; ++i) task(i, omp_get_thread_num());
  } else {
    for (std::int64_t i = 0; i < tasks; ++i) task(i, 0);
  }
}

}  // namespace slimpipe_runtime
