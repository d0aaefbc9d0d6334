// The encoder forward of the runtime: embeddings, layers (fused or separate Q/K/V GEMMs, attention through
// OpenBLAS per (sequence, head), masked softmax, LayerNorm, FFN), pooler and task head. All buffers live in a
// workspace that only grows; see runtime.hpp.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "gemm.hpp"
#include "kernels.hpp"
#include "linear.hpp"
#include "model_file.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

using detail::Act;
using detail::Linear;
using detail::LinearSpec;
using detail::ModelFile;

std::int64_t Output::logits_size() const {
  return logits ? batch * seq * num_labels : 0;  // seq is 1 for seq_cls
}

const char* to_string(Head head) {
  switch (head) {
    case Head::SequenceClassification: return "seq_cls";
    case Head::TokenClassification: return "token_cls";
    case Head::QuestionAnswering: return "qa";
  }
  return "?";
}

void set_threads(int n) {
  if (n < 1) throw Error("threads must be >= 1, got " + std::to_string(n));
  omp_set_num_threads(n);
  openblas_set_num_threads(1);  // OpenBLAS runs inside the runtime's OpenMP slices (one threading model)
}

int threads() { return omp_get_max_threads(); }

std::string cpu_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

namespace {

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

}  // namespace

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
    for (const auto* b : {&x, &h1, &tmp, &qkv, &q, &k, &v, &ctx, &ffn, &scores, &mask, &fbuf, &pooled_in, &pooled, &logits, &start, &end,
                          &att_scores})
      n += b->capacity() * sizeof(float);
    return n + qbuf.capacity() + ffq.capacity() + att_q.capacity() + att_k.capacity() + att_v.capacity() + att_p.capacity() +
           att_scratch.capacity() + att_pack.capacity();
  }

  std::unique_ptr<Linear> make_linear(const std::string& site, std::int64_t in, std::int64_t out_features, Act act) {
    LinearSpec s = spec(site, in, out_features, act);
    return std::make_unique<Linear>(std::move(s), engine, options);
  }

  LinearSpec spec(const std::string& site, std::int64_t in, std::int64_t out_features, Act act) {
    LinearSpec s;
    s.site = site;
    s.in = in;
    s.out = out_features;
    s.act = act;
    s.bias = file->tensor(site + ".bias", "f32", {out_features}).f32();
    const auto* w = file->find(site + ".weight");
    if (w && w->dtype == "i8") {
      s.levels = file->tensor(site + ".weight", "i8", {out_features, in}).i8();
      const detail::TensorView* tp = file->find(site + ".weight_threshold");
      if (!tp)
        throw Error(file->json_path() + ": tensor " + site + ".weight_threshold is missing (expected f32 [" +
                    std::to_string(out_features) + "] or [1] beside the i8 weight)");
      const auto& t = *tp;
      if (t.dtype != "f32" || (t.numel() != out_features && t.numel() != 1))
        throw Error(file->json_path() + ": tensor " + site + ".weight_threshold is " + t.dtype + " " + detail::shape_text(t.shape) +
                    ", expected f32 [" + std::to_string(out_features) + "] or [1]");
      for (std::int64_t n = 0; n < out_features; ++n) s.weight_thresholds.push_back(t.f32()[t.numel() == 1 ? 0 : n]);
    } else {
      s.weight = file->tensor(site + ".weight", "f32", {out_features, in}).f32();
    }
    if (auto t = file->site_quant(site).input_threshold) s.input_threshold = *t;
    return s;
  }

  void load_layer(std::int64_t i, Act act) {
    Layer& L = layers[i];
    const std::int64_t H = info.hidden_size, d = info.head_dim;
    L.heads = info.heads[i];
    L.inter = info.intermediate_sizes[i];
    if (__builtin_mul_overflow(L.heads, d, &L.all))
      throw Error(file->json_path() + ": layer " + std::to_string(i) + " has " + std::to_string(L.heads) + " heads of " +
                  std::to_string(d) + ", too many");
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    LinearSpec sq = spec(p + "attention.self.query", H, L.all, Act::None);
    LinearSpec sk = spec(p + "attention.self.key", H, L.all, Act::None);
    LinearSpec sv = spec(p + "attention.self.value", H, L.all, Act::None);
    const bool same_kind = (sq.levels != nullptr) == (sk.levels != nullptr) && (sq.levels != nullptr) == (sv.levels != nullptr);
    const bool same_t = sq.input_threshold == sk.input_threshold && sq.input_threshold == sv.input_threshold;
    if (same_kind && same_t && L.all > 0) {
      // One GEMM for Q, K and V: weights, thresholds and biases concatenated along the output features.
      LinearSpec f;
      f.site = p + "attention.self.qkv";
      f.in = H;
      f.out = 3 * L.all;
      f.input_threshold = sq.input_threshold;
      for (const LinearSpec* s : {&sq, &sk, &sv}) {
        f.own_bias.insert(f.own_bias.end(), s->bias, s->bias + L.all);
        if (s->levels) {
          f.own_levels.insert(f.own_levels.end(), s->levels, s->levels + L.all * H);
          f.weight_thresholds.insert(f.weight_thresholds.end(), s->weight_thresholds.begin(), s->weight_thresholds.end());
        } else {
          f.own_weight.insert(f.own_weight.end(), s->weight, s->weight + L.all * H);
        }
      }
      L.qkv = std::make_unique<Linear>(std::move(f), engine, options);
    } else {
      L.q = std::make_unique<Linear>(std::move(sq), engine, options);
      L.k = std::make_unique<Linear>(std::move(sk), engine, options);
      L.v = std::make_unique<Linear>(std::move(sv), engine, options);
    }
    const auto qk = file->site_quant(p + "attention.self.qk");
    const auto pv = file->site_quant(p + "attention.self.pv");
    L.t_q = qk.left_threshold.value_or(0.0f);
    L.t_k = qk.right_threshold.value_or(0.0f);
    L.t_p = pv.left_threshold.value_or(0.0f);
    L.t_v = pv.right_threshold.value_or(0.0f);
    // Integer attention where every operand has a threshold and the integer kernels are fast on this CPU (own:
    // VNNI; oneDNN: brgemm kernels, VNNI and newer); elsewhere the operands are fake-quantized and multiplied in
    // float (the same values, in float).
    if (L.all > 0 && L.t_q > 0 && L.t_k > 0 && L.t_v > 0 && L.t_p > 0 && options.kernels == Kernels::Own) {
      // The own kernels: where the CPU multiplies u8 by s8 natively (VNNI); the 16-bit AVX2 products are no
      // faster than the float ones.
      L.int8_attention = isa == detail::GemmIsa::Avx512Vnni;
      if (L.int8_attention) ++info.int8_attention_layers;
    } else if (L.all > 0 && L.t_q > 0 && L.t_k > 0 && L.t_v > 0 && L.t_p > 0) {
      const std::int64_t s_ref = std::min<std::int64_t>(128, info.max_position_embeddings);
      try {
        L.int8_attention = true;
        const AttnPrims& ref = attn_prims(L, 1, s_ref);
        L.int8_attention = ref.brgemm;
      } catch (const Error&) {
        L.int8_attention = false;
      }
      if (L.int8_attention) ++info.int8_attention_layers;
      else L.attn.clear();  // the probe's primitives are kept for use only when the integer path is taken
    }
    L.attn_out = make_linear(p + "attention.output.dense", L.all, H, Act::None);
    L.ln1_g = file->tensor(p + "attention.output.LayerNorm.weight", "f32", {H}).f32();
    L.ln1_b = file->tensor(p + "attention.output.LayerNorm.bias", "f32", {H}).f32();
    // FFN: when both GEMMs are int8, the first writes s8 requantized for the second (one fused epilogue).
    LinearSpec s1 = spec(p + "intermediate.dense", H, L.inter, act);
    LinearSpec s2 = spec(p + "output.dense", L.inter, H, Act::None);
    if (s1.levels && s1.input_threshold > 0 && s2.levels && s2.input_threshold > 0 && L.inter > 0)
      s1.output_threshold = s2.input_threshold;
    L.ffn2 = std::make_unique<Linear>(std::move(s2), engine, options);
    s1.output_u8 = L.ffn2->u8_input();  // FFN1 writes the bytes FFN2 reads
    L.ffn1 = std::make_unique<Linear>(std::move(s1), engine, options);
    L.ln2_g = file->tensor(p + "output.LayerNorm.weight", "f32", {H}).f32();
    L.ln2_b = file->tensor(p + "output.LayerNorm.bias", "f32", {H}).f32();
    for (const Linear* l : {L.qkv.get(), L.q.get(), L.k.get(), L.v.get(), L.attn_out.get(), L.ffn1.get(), L.ffn2.get()})
      if (l) {
        ++(l->int8() ? info.int8_linears : info.fp32_linears);
        if (l->onednn()) ++info.onednn_linears;
        if (l->own()) ++info.own_linears;
      }
  }

  void load(const std::filesystem::path& dir) {
    if (options.kernels == Kernels::Own) {
      const detail::OwnKernels own = detail::own_kernels(options.isa);
      isa = own.isa;
      info.kernels = std::string("own: int8 ") + detail::gemm_isa_name(isa) + ", fp32 " + (own.fp32_avx512 ? "avx512" : "openblas");
    } else {
      info.kernels = "onednn";
    }
    file = std::make_unique<ModelFile>(dir);
    const ModelFile& f = *file;
    info.precision = f.string("precision");
    info.model_type = f.string("model_type");
    const std::string head_name = f.string("head");
    if (head_name == "seq_cls") info.head = Head::SequenceClassification;
    else if (head_name == "token_cls") info.head = Head::TokenClassification;
    else if (head_name == "qa") info.head = Head::QuestionAnswering;
    else throw Error(f.json_path() + ": head '" + head_name + "', expected seq_cls, token_cls or qa");
    info.hidden_act = f.string("hidden_act");
    Act act;
    if (info.hidden_act == "gelu") act = Act::GeluErf;
    else if (info.hidden_act == "gelu_new" || info.hidden_act == "gelu_pytorch_tanh") act = Act::GeluTanh;
    else if (info.hidden_act == "relu") act = Act::Relu;
    else throw Error(f.json_path() + ": hidden_act '" + info.hidden_act + "', expected gelu, gelu_new, gelu_pytorch_tanh or relu");
    info.num_layers = f.integer("num_hidden_layers");
    info.hidden_size = f.integer("hidden_size");
    info.head_dim = f.integer("head_dim");
    info.num_labels = f.integer("num_labels");
    info.vocab_size = f.integer("vocab_size");
    info.max_position_embeddings = f.integer("max_position_embeddings");
    type_vocab = f.integer("type_vocab_size");
    eps = f.number("layer_norm_eps");
    info.file_bytes = f.file_bytes();
    if (info.num_layers < 0 || info.hidden_size <= 0 || info.head_dim <= 0 || info.num_labels <= 0 || info.vocab_size <= 0 ||
        info.max_position_embeddings <= 0 || type_vocab <= 0)
      throw Error(f.json_path() + ": sizes must be positive (hidden_size, head_dim, num_labels, vocab_size, max_position_embeddings, type_vocab_size)");
    const auto& lj = f.json().at("layers");
    if (!lj.is_array() || static_cast<std::int64_t>(lj.size()) != info.num_layers)
      throw Error(f.json_path() + ": 'layers' must list " + std::to_string(info.num_layers) + " layers");
    for (const auto& l : lj) {
      if (!l.is_object() || !l.contains("num_heads") || !l.contains("intermediate_size") || !l["num_heads"].is_number_integer() ||
          !l["intermediate_size"].is_number_integer() || l["num_heads"].get<std::int64_t>() < 0 || l["intermediate_size"].get<std::int64_t>() < 0)
        throw Error(f.json_path() + ": every 'layers' entry needs integers num_heads >= 0 and intermediate_size >= 0");
      info.heads.push_back(l["num_heads"].get<std::int64_t>());
      info.intermediate_sizes.push_back(l["intermediate_size"].get<std::int64_t>());
    }
    const std::int64_t H = info.hidden_size;
    {
      const auto* w = f.find("embeddings.word_embeddings.weight");
      if (w && w->dtype == "f16") word16 = f.tensor("embeddings.word_embeddings.weight", "f16", {info.vocab_size, H}).f16();
      else word = f.tensor("embeddings.word_embeddings.weight", "f32", {info.vocab_size, H}).f32();
    }
    pos = f.tensor("embeddings.position_embeddings.weight", "f32", {info.max_position_embeddings, H}).f32();
    type = f.tensor("embeddings.token_type_embeddings.weight", "f32", {type_vocab, H}).f32();
    if (f.boolean("use_task_id", false)) {
      const auto* t = f.find("embeddings.task_type_embeddings.weight");
      if (!t || t->dtype != "f32" || t->shape.size() != 2 || t->shape[1] != H || t->shape[0] < 1)
        throw Error(f.json_path() + ": use_task_id needs tensor embeddings.task_type_embeddings.weight, f32 [types, " + std::to_string(H) + "]");
      task0 = t->f32();
    }
    emb_g = f.tensor("embeddings.LayerNorm.weight", "f32", {H}).f32();
    emb_b = f.tensor("embeddings.LayerNorm.bias", "f32", {H}).f32();
    layers.resize(static_cast<std::size_t>(info.num_layers));
    for (std::int64_t i = 0; i < info.num_layers; ++i) load_layer(i, act);
    switch (info.head) {
      case Head::SequenceClassification:
        pooler = make_linear("pooler.dense", H, H, Act::Tanh);
        head = make_linear("classifier", H, info.num_labels, Act::None);
        break;
      case Head::TokenClassification: head = make_linear("classifier", H, info.num_labels, Act::None); break;
      case Head::QuestionAnswering:
        if (info.num_labels != 2) throw Error(f.json_path() + ": a qa model has num_labels 2, found " + std::to_string(info.num_labels));
        head = make_linear("qa_outputs", H, 2, Act::None);
        break;
    }
    for (const Linear* l : {pooler.get(), head.get()})
      if (l) {
        ++(l->int8() ? info.int8_linears : info.fp32_linears);
        if (l->onednn()) ++info.onednn_linears;
        if (l->own()) ++info.own_linears;
      }
  }

  void check_inputs(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am, std::int64_t b, std::int64_t s) const {
    if (!ids) throw Error("run: input_ids is null");
    if (b <= 0 || s <= 0) throw Error("run: batch and seq must be > 0, got batch " + std::to_string(b) + ", seq " + std::to_string(s));
    if (s > info.max_position_embeddings)
      throw Error("run: seq " + std::to_string(s) + " exceeds max_position_embeddings " + std::to_string(info.max_position_embeddings));
    for (std::int64_t i = 0; i < b * s; ++i) {
      if (ids[i] < 0 || ids[i] >= info.vocab_size)
        throw Error("run: input_ids[" + std::to_string(i / s) + "][" + std::to_string(i % s) + "] = " + std::to_string(ids[i]) +
                    " is outside the vocabulary [0, " + std::to_string(info.vocab_size) + ")");
      if (types && (types[i] < 0 || types[i] >= type_vocab))
        throw Error("run: token_type_ids[" + std::to_string(i / s) + "][" + std::to_string(i % s) + "] = " + std::to_string(types[i]) +
                    ", expected 0.." + std::to_string(type_vocab - 1));
      if (am && am[i] != 0 && am[i] != 1)
        throw Error("run: attention_mask[" + std::to_string(i / s) + "][" + std::to_string(i % s) + "] = " + std::to_string(am[i]) +
                    ", expected 0 or 1");
    }
  }

  // One task per (sequence, head): QKᵀ·1/√d into the thread's s×s scores slot, masked softmax, PV into ctx.
  // Tasks run over the OpenMP threads (single-threaded sgemm each) when the work is worth a parallel region.
  void attention(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b, std::int64_t s) {
    const std::int64_t d = info.head_dim, h = L.heads;
    const float alpha = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
    auto task = [&](std::int64_t i, float* sc) {
      const std::int64_t bi = i / h, hi = i % h;
      const std::int64_t off = bi * s * ld + hi * d;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(s), int(s), int(d), alpha, qp + off, int(ld), kp + off, int(ld), 0.0f,
                  sc, int(s));
      detail::masked_softmax_serial(sc, s, s, mask.data() + bi * s, s, L.t_p);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s), int(d), int(s), 1.0f, sc, int(s), vp + off, int(ld), 0.0f,
                  ctx.data() + bi * s * L.all + hi * d, int(L.all));
    };
    const std::int64_t tasks = b * h;
    if (detail::parallel_worth(tasks * 2 * s * s * d, detail::kParallelMinMacs)) {
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < tasks; ++i) task(i, scores.data() + omp_get_thread_num() * s * s);
    } else {
      for (std::int64_t i = 0; i < tasks; ++i) task(i, scores.data());
    }
  }

  AttnPrims& attn_prims(Layer& L, std::int64_t b, std::int64_t s) {
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
    const dnnl::memory::desc kt_md({b, h, d, s}, dt::s8, dnnl::memory::dims{h * s * d, s * d, 1, d});  // K [b,h,s,d] read as Kᵀ
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
      p.scratch = dnnl::memory(dnnl::memory::desc({std::max<std::int64_t>(
                                                      64, static_cast<std::int64_t>(std::max(qk_pd.scratchpad_desc().get_size(),
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

  // Both integer attention paths: Q, K and V quantized per head into [b, heads, s, d] levels (Q as u8 + 128, K
  // and V as s8); Q keeps 64 bytes of slack (the own kernels read whole groups of 4 k, gemm.hpp).
  void quantize_attention_operands(const Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld,
                                   std::int64_t b, std::int64_t s) {
    const std::int64_t h = L.heads, d = info.head_dim, n = b * h * s * d;
    grow(att_q, n + 64);
    grow(att_k, n);
    grow(att_v, n);
    detail::quantize_heads(qp, ld, b, s, h, d, L.t_q, att_q.data(), true);
    detail::quantize_heads(kp, ld, b, s, h, d, L.t_k, att_k.data(), false);
    detail::quantize_heads(vp, ld, b, s, h, d, L.t_v, att_v.data(), false);
  }

  // Integer attention: the operands' levels (Q as u8 + 128, K and V as s8, per head), Q·Kᵀ scaled by
  // α·T_q/127·T_k/127 into float scores, mask + softmax, the probabilities' levels (u8, 0..127), P·V scaled by
  // T_p/127·T_v/127 into ctx. The fake-quant forward computes the same products of levels in float.
  void attention_int8(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b,
                      std::int64_t s) {
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
    const dnnl_exec_arg_t qk_args[] = {{DNNL_ARG_SRC, P.q.get()}, {DNNL_ARG_WEIGHTS, P.k.get()},
                                       {DNNL_ARG_DST, P.scores.get()}, {DNNL_ARG_SCRATCHPAD, P.scratch.get()}};
    detail::execute_primitive(P.qk, stream, P.one_thread, qk_args, 4, "attention Q.K^T");
    detail::masked_softmax_levels(att_scores.data(), att_p.data(), b * h * s, s, mask.data(), h * s, L.t_p);
    const dnnl_exec_arg_t pv_args[] = {{DNNL_ARG_SRC, P.p.get()}, {DNNL_ARG_WEIGHTS, P.v.get()},
                                       {DNNL_ARG_DST, P.ctx.get()}, {DNNL_ARG_SCRATCHPAD, P.scratch.get()}};
    detail::execute_primitive(P.pv, stream, P.one_thread, pv_args, 4, "attention P.V");
  }

  // Integer attention on the own kernels: per (batch, head) on one thread, the head's keys packed as Q·Kᵀ's B
  // (with their column sums for Q's zero point 128), scores scaled by α·T_q/127·T_k/127, mask + softmax into
  // probability levels (u8, 0..127), the head's values packed as P·V's B, the context scaled by T_p/127·T_v/127
  // written in place. The same products of levels as the oneDNN path and the fake-quant forward.
  void attention_int8_own(Layer& L, const float* qp, const float* kp, const float* vp, std::int64_t ld, std::int64_t b,
                          std::int64_t s) {
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

  const Output& run(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am, std::int64_t b, std::int64_t s) {
    check_inputs(ids, types, am, b, s);
    const std::int64_t M = b * s, H = info.hidden_size, d = info.head_dim;
    std::int64_t max_all = 0, max_inter = 0;
    for (const Layer& L : layers) {
      max_all = std::max(max_all, L.all);
      max_inter = std::max(max_inter, L.inter);
    }
    const std::int64_t widest = std::max({H, max_all, max_inter});
    grow(x, M * H);
    grow(h1, M * H);
    grow(tmp, M * H);
    grow(qkv, M * 3 * max_all);
    grow(q, M * max_all);
    grow(k, M * max_all);
    grow(v, M * max_all);
    grow(ctx, M * max_all);
    grow(ffn, M * max_inter);
    grow(scores, std::max(1, omp_get_max_threads()) * s * s);  // one s×s slot per thread
    grow(mask, M);
    grow(fbuf, M * widest);
    grow(qbuf, M * widest + 64);  // 8-bit GEMM inputs: readable past their end (gemm.hpp)
    grow(ffq, M * max_inter + 64);
    grow(pooled_in, b * H);
    grow(pooled, b * H);
    grow(logits, M * std::max<std::int64_t>(info.num_labels, 2));
    grow(start, M);
    grow(end, M);

    const float lowest = std::numeric_limits<float>::lowest();
    for (std::int64_t i = 0; i < M; ++i) mask[i] = (am && am[i] == 0) ? lowest : 0.0f;

    // Embeddings: word + token type (+ task type 0) + position, then LayerNorm (transformers' order).
    auto embed = [&](std::int64_t t) {
      float* xr = x.data() + t * H;
      const float* ty = type + (types ? types[t] : 0) * H;
      const float* p = pos + (t % s) * H;
      if (word16) detail::half_to_float(word16 + ids[t] * H, xr, H);
      else std::memcpy(xr, word + ids[t] * H, sizeof(float) * H);
      for (std::int64_t c = 0; c < H; ++c) {
        float e = xr[c] + ty[c];
        if (task0) e += task0[c];
        xr[c] = e + p[c];
      }
    };
    if (detail::parallel_worth(3 * M * H, detail::kParallelMinElements)) {
#pragma omp parallel for schedule(static)
      for (std::int64_t t = 0; t < M; ++t) embed(t);
    } else {
      for (std::int64_t t = 0; t < M; ++t) embed(t);
    }
    detail::layer_norm(x.data(), nullptr, emb_g, emb_b, eps, x.data(), M, H);

    for (Layer& L : layers) {
      const float *qp = nullptr, *kp = nullptr, *vp = nullptr;
      std::int64_t ld = L.all;
      if (L.all > 0) {
        if (L.qkv) {
          L.qkv->forward(x.data(), nullptr, M, qkv.data(), nullptr, qbuf.data(), fbuf.data(), stream);
          ld = 3 * L.all;
          qp = qkv.data();
          kp = qp + L.all;
          vp = qp + 2 * L.all;
        } else {
          L.q->forward(x.data(), nullptr, M, q.data(), nullptr, qbuf.data(), fbuf.data(), stream);
          L.k->forward(x.data(), nullptr, M, k.data(), nullptr, qbuf.data(), fbuf.data(), stream);
          L.v->forward(x.data(), nullptr, M, v.data(), nullptr, qbuf.data(), fbuf.data(), stream);
          qp = q.data();
          kp = k.data();
          vp = v.data();
        }
        if (L.int8_attention && options.kernels == Kernels::Own) {
          attention_int8_own(L, qp, kp, vp, ld, b, s);
        } else if (L.int8_attention) {
          attention_int8(L, qp, kp, vp, ld, b, s);
        } else {
          // Attention MatMul operands fake-quantized as the int8 deployment computes them.
          if (L.t_q > 0) detail::fake_quantize(const_cast<float*>(qp), M, L.all, ld, L.t_q);
          if (L.t_k > 0) detail::fake_quantize(const_cast<float*>(kp), M, L.all, ld, L.t_k);
          if (L.t_v > 0) detail::fake_quantize(const_cast<float*>(vp), M, L.all, ld, L.t_v);
          attention(L, qp, kp, vp, ld, b, s);
        }
      }
      L.attn_out->forward(ctx.data(), nullptr, M, tmp.data(), nullptr, qbuf.data(), fbuf.data(), stream);
      detail::layer_norm(tmp.data(), x.data(), L.ln1_g, L.ln1_b, eps, h1.data(), M, H);
      if (L.ffn1->s8_output()) {
        L.ffn1->forward(h1.data(), nullptr, M, nullptr, ffq.data(), qbuf.data(), fbuf.data(), stream);
        L.ffn2->forward(nullptr, ffq.data(), M, tmp.data(), nullptr, qbuf.data(), fbuf.data(), stream);
      } else {
        L.ffn1->forward(h1.data(), nullptr, M, ffn.data(), nullptr, qbuf.data(), fbuf.data(), stream);
        L.ffn2->forward(ffn.data(), nullptr, M, tmp.data(), nullptr, qbuf.data(), fbuf.data(), stream);
      }
      detail::layer_norm(tmp.data(), h1.data(), L.ln2_g, L.ln2_b, eps, x.data(), M, H);
    }
    (void)d;

    out = Output{};
    out.batch = b;
    out.seq = s;
    out.num_labels = info.num_labels;
    switch (info.head) {
      case Head::SequenceClassification:
        for (std::int64_t bi = 0; bi < b; ++bi) std::memcpy(pooled_in.data() + bi * H, x.data() + bi * s * H, sizeof(float) * H);
        pooler->forward(pooled_in.data(), nullptr, b, pooled.data(), nullptr, qbuf.data(), fbuf.data(), stream);
        head->forward(pooled.data(), nullptr, b, logits.data(), nullptr, qbuf.data(), fbuf.data(), stream);
        out.logits = logits.data();
        out.seq = 1;
        break;
      case Head::TokenClassification:
        head->forward(x.data(), nullptr, M, logits.data(), nullptr, qbuf.data(), fbuf.data(), stream);
        out.logits = logits.data();
        break;
      case Head::QuestionAnswering:
        head->forward(x.data(), nullptr, M, logits.data(), nullptr, qbuf.data(), fbuf.data(), stream);
        for (std::int64_t t = 0; t < M; ++t) {
          start[t] = logits[2 * t];
          end[t] = logits[2 * t + 1];
        }
        out.start_logits = start.data();
        out.end_logits = end.data();
        break;
    }
    return out;
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::filesystem::path& dir, const Options& options) {
  openblas_set_num_threads(1);  // even without set_threads: no OpenBLAS pthread pool beside the OpenMP team
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (is_package(dir)) impl->package = read_package(dir, options.verify_package);
  try {
    impl->load(dir);
  } catch (const dnnl::error& e) {
    throw Error(dir.string() + ": oneDNN refused the model (" + std::string(e.what()) + ")");
  } catch (const nlohmann::json::exception& e) {
    throw Error(dir.string() + "/runtime.json: malformed (" + std::string(e.what()) + ")");
  }
  if (const auto& p = impl->package) {
    const std::string where = (dir / "package.json").string();
    if (p->task != to_string(impl->info.head))
      throw Error(where + ": task " + p->task + ", but runtime.json's head is " + to_string(impl->info.head));
    if (p->task != "qa" && static_cast<std::int64_t>(p->labels.size()) != impl->info.num_labels)
      throw Error(where + ": " + std::to_string(p->labels.size()) + " labels, runtime.json has num_labels " +
                  std::to_string(impl->info.num_labels));
    if (p->max_seq_length > impl->info.max_position_embeddings)
      throw Error(where + ": max_seq_length " + std::to_string(p->max_seq_length) +
                  " exceeds runtime.json's max_position_embeddings " + std::to_string(impl->info.max_position_embeddings));
  }
  return Model(std::move(impl));
}

const Output& Model::run(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* mask, std::int64_t batch,
                         std::int64_t seq) {
  return impl_->run(ids, types, mask, batch, seq);
}

const Output& Model::run(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& types,
                         const std::vector<std::int64_t>& mask, std::int64_t batch, std::int64_t seq) {
  const auto n = static_cast<std::size_t>(batch * seq);
  if (batch <= 0 || seq <= 0 || ids.size() != n)
    throw Error("run: input_ids has " + std::to_string(ids.size()) + " values, expected batch*seq = " + std::to_string(batch * seq));
  if (!types.empty() && types.size() != n)
    throw Error("run: token_type_ids has " + std::to_string(types.size()) + " values, expected " + std::to_string(n) + " (or none)");
  if (!mask.empty() && mask.size() != n)
    throw Error("run: attention_mask has " + std::to_string(mask.size()) + " values, expected " + std::to_string(n) + " (or none)");
  return impl_->run(ids.data(), types.empty() ? nullptr : types.data(), mask.empty() ? nullptr : mask.data(), batch, seq);
}

const ModelInfo& Model::info() const { return impl_->info; }
const PackageInfo* Model::package() const { return impl_->package ? &*impl_->package : nullptr; }
std::uint64_t Model::workspace_bytes() const { return impl_->workspace_bytes(); }

}  // namespace slimpipe_runtime
