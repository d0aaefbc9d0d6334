// The runtime model's internals (runtime.hpp's Model::Impl), shared by model.cpp (the public Model and the
// forward pass), model_load.cpp (reading runtime.json and the weights into Linear layers) and model_attention.cpp
// (the attention paths: float through OpenBLAS, INT8 through oneDNN's batched matmuls or the own kernels).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gemm.hpp"
#include "linear.hpp"
#include "model_file.hpp"
#include "slimpipe_runtime/package.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

using detail::Act;
using detail::Linear;
using detail::LinearSpec;
using detail::ModelFile;

namespace detail {

// INT8 attention of one layer at one (batch, seq, threads): Q·Kᵀ as a batched u8 x s8 matmul over [b, heads]
// writing float scores, P·V as a batched u8 x s8 matmul writing the float context in place.
struct AttnPrims {
  dnnl::matmul qk, pv;
  dnnl::memory q, k, scores, p, v, ctx, scratch;
  bool one_thread = false;
  bool brgemm = false;  // both kernels are oneDNN's brgemm ones
};

struct Layer {
  std::int64_t heads = 0, inter = 0, all = 0;  // all = heads * head_dim
  std::unique_ptr<Linear> qkv, q, k, v, attn_out, ffn1, ffn2;
  const float *ln1_g = nullptr, *ln1_b = nullptr, *ln2_g = nullptr, *ln2_b = nullptr;
  float t_q = 0, t_k = 0, t_v = 0, t_p = 0;  // qk left/right, pv right (value), pv left (probs)
  bool int8_attention = false;               // all four operands quantized and integer kernels fast for them
  std::map<std::int64_t, AttnPrims> attn;    // by (batch, seq, threads)
};

template <class T>
T* grow(std::vector<T>& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

}  // namespace detail

using detail::AttnPrims;
using detail::grow;
using detail::Layer;

struct Model::Impl {
  std::unique_ptr<ModelFile> file;
  std::optional<PackageInfo> package;
  ModelInfo info;
  Options options;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  double eps = 1e-12;
  std::int64_t type_vocab = 0;
  const std::uint16_t* word16 = nullptr;  // the word-embedding table when stored as f16 (INT8 exports)
  const float *word = nullptr, *pos = nullptr, *type = nullptr, *task0 = nullptr, *emb_g = nullptr, *emb_b = nullptr;
  std::vector<Layer> layers;
  std::unique_ptr<Linear> pooler, head;

  // Workspace.
  std::vector<float> x, h1, tmp, qkv, q, k, v, ctx, ffn, scores, mask, fbuf, pooled_in, pooled, logits, start, end;
  std::vector<std::int8_t> qbuf, ffq;
  std::vector<std::int8_t> att_q, att_k, att_v;  // INT8 attention operands, [b, heads, s, d]
  std::vector<std::uint8_t> att_p, att_scratch;  // probability levels [b, heads, s, s]; oneDNN scratchpad
  std::vector<float> att_scores;                 // [b, heads, s, s]
  // Own integer attention: per OpenMP thread, the packed keys and values of one head (64-byte aligned within).
  std::vector<std::uint8_t> att_pack;
  detail::GemmIsa isa = detail::GemmIsa::Portable;
  Output out;

  std::uint64_t workspace_bytes() const {
    std::uint64_t n = 0;
    for (const auto* b : {&x, &h1, &tmp, &qkv, &q, &k, &v, &ctx, &ffn, &scores, &mask, &fbuf, &pooled_in, &pooled,
                          &logits, &start, &end, &att_scores})
      n += b->capacity() * sizeof(float);
    return n + qbuf.capacity() + ffq.capacity() + att_q.capacity() + att_k.capacity() + att_v.capacity() +
           att_p.capacity() + att_scratch.capacity() + att_pack.capacity();
  }

  std::unique_ptr<Linear> make_linear(const std::string& site, std::int64_t in, std::int64_t out_features, Act act);

  LinearSpec spec(const std::string& site, std::int64_t in, std::int64_t out_features, Act act);

  // Loading (model_load.cpp): load reads the configuration, the embeddings, each layer and the head.
  void load(const std::filesystem::path& dir);
  Act read_config();  // runtime.json's sizes, head and per-layer sizes into info; returns the FFN activation
  void load_embeddings();
  void load_layer(std::int64_t i, Act act);
  void load_qkv(Layer& L, const std::string& prefix);  // one fused Q/K/V Linear where the three agree, else three
  // The attention thresholds of a layer, and whether its attention runs on integer kernels.
  void choose_attention(Layer& L, const std::string& prefix);
  void load_ffn(Layer& L, const std::string& prefix, Act act);
  void load_head();
  void count_linear(const Linear* l);  // info's counts of int8, fp32, oneDNN and own Linears (null: none)

  void check_inputs(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am, std::int64_t b,
                    std::int64_t s) const;

  // One task per (sequence, head): QKᵀ·1/√d into the thread's s×s scores slot, masked softmax, PV into ctx.
  // Tasks run over the OpenMP threads (single-threaded sgemm each) when the work is worth a parallel region.
  void attention(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b,
                 std::int64_t s);

  AttnPrims& attn_prims(Layer& L, std::int64_t b, std::int64_t s);

  // Both integer attention paths: Q, K and V quantized per head into [b, heads, s, d] levels (Q as u8 + 128, K
  // and V as s8); Q keeps 64 bytes of slack (the own kernels read whole groups of 4 k, gemm.hpp).
  void quantize_attention_operands(const Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld,
                                   std::int64_t b, std::int64_t s);

  // Integer attention: the operands' levels (Q as u8 + 128, K and V as s8, per head), Q·Kᵀ scaled by
  // α·T_q/127·T_k/127 into float scores, mask + softmax, the probabilities' levels (u8, 0..127), P·V scaled by
  // T_p/127·T_v/127 into ctx. The fake-quant forward computes the same products of levels in float.
  void attention_int8(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b,
                      std::int64_t s);

  // Integer attention on the own kernels: per (batch, head) on one thread, the head's keys packed as Q·Kᵀ's B
  // (with their column sums for Q's zero point 128), scores scaled by α·T_q/127·T_k/127, mask + softmax into
  // probability levels (u8, 0..127), the head's values packed as P·V's B, the context scaled by T_p/127·T_v/127
  // written in place. The same products of levels as the oneDNN path and the fake-quant forward.
  void attention_int8_own(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b,
                          std::int64_t s);

  // The forward (model.cpp), in order: the workspace grown for [b, s], the embeddings into x, each layer, the task
  // head into out.
  void grow_workspace(std::int64_t b, std::int64_t s);
  void embed(const std::int64_t* ids, const std::int64_t* types, std::int64_t M, std::int64_t s);
  void run_layer(Layer& L, std::int64_t b, std::int64_t s);
  void run_head(std::int64_t b, std::int64_t s);  // fills out

  const Output& run(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am, std::int64_t b,
                    std::int64_t s);
};

}  // namespace slimpipe_runtime
