// Loading a runtime model (model_impl.hpp): runtime.json and weights.bin into embeddings, Linear layers (fp32 or
// INT8 with their thresholds) and the attention settings of each layer.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.hpp"
#include "model_impl.hpp"

namespace slimpipe_runtime {

std::unique_ptr<Linear> Model::Impl::make_linear(const std::string& site, std::int64_t in, std::int64_t out_features,
                                                 Act act) {
  LinearSpec s = spec(site, in, out_features, act);
  return std::make_unique<Linear>(std::move(s), engine, options);
}

LinearSpec Model::Impl::spec(const std::string& site, std::int64_t in, std::int64_t out_features, Act act) {
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
      throw Error(file->json_path() + ": tensor " + site + ".weight_threshold is " + t.dtype + " " +
                  detail::shape_text(t.shape) + ", expected f32 [" + std::to_string(out_features) + "] or [1]");
    for (std::int64_t n = 0; n < out_features; ++n) s.weight_thresholds.push_back(t.f32()[t.numel() == 1 ? 0 : n]);
  } else {
    s.weight = file->tensor(site + ".weight", "f32", {out_features, in}).f32();
  }
  if (auto t = file->site_quant(site).input_threshold) s.input_threshold = *t;
  return s;
}

namespace {

// Q, K and V as one Linear: weights (or levels and their thresholds) and biases concatenated along the output
// features, with the input threshold the three share.
LinearSpec fused_qkv(const std::string& site, const LinearSpec& sq, const LinearSpec& sk, const LinearSpec& sv) {
  const std::int64_t H = sq.in, all = sq.out;
  LinearSpec f;
  f.site = site;
  f.in = H;
  f.out = 3 * all;
  f.input_threshold = sq.input_threshold;
  for (const LinearSpec* s : {&sq, &sk, &sv}) {
    f.own_bias.insert(f.own_bias.end(), s->bias, s->bias + all);
    if (s->levels) {
      f.own_levels.insert(f.own_levels.end(), s->levels, s->levels + all * H);
      f.weight_thresholds.insert(f.weight_thresholds.end(), s->weight_thresholds.begin(), s->weight_thresholds.end());
    } else {
      f.own_weight.insert(f.own_weight.end(), s->weight, s->weight + all * H);
    }
  }
  return f;
}

Head head_named(const std::string& name, const ModelFile& f) {
  if (name == "seq_cls") return Head::SequenceClassification;
  if (name == "token_cls") return Head::TokenClassification;
  if (name == "qa") return Head::QuestionAnswering;
  throw Error(f.json_path() + ": head '" + name + "', expected seq_cls, token_cls or qa");
}

Act act_named(const std::string& name, const ModelFile& f) {
  if (name == "gelu") return Act::GeluErf;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Act::GeluTanh;
  if (name == "relu") return Act::Relu;
  throw Error(f.json_path() + ": hidden_act '" + name + "', expected gelu, gelu_new, gelu_pytorch_tanh or relu");
}

}  // namespace

void Model::Impl::count_linear(const Linear* l) {
  if (!l || l->empty()) return;  // no GEMM: pruned to no output (or no input) features
  ++(l->int8() ? info.int8_linears : info.fp32_linears);
  if (l->onednn()) ++info.onednn_linears;
  if (l->own()) ++info.own_linears;
}

void Model::Impl::load_qkv(Layer& L, const std::string& prefix) {
  const std::int64_t H = info.hidden_size;
  LinearSpec sq = spec(prefix + "attention.self.query", H, L.all, Act::None);
  LinearSpec sk = spec(prefix + "attention.self.key", H, L.all, Act::None);
  LinearSpec sv = spec(prefix + "attention.self.value", H, L.all, Act::None);
  const bool same_kind =
      (sq.levels != nullptr) == (sk.levels != nullptr) && (sq.levels != nullptr) == (sv.levels != nullptr);
  const bool same_t = sq.input_threshold == sk.input_threshold && sq.input_threshold == sv.input_threshold;
  // A layer without heads (L.all 0) keeps three empty Linears: nothing is packed, run_layer skips them.
  if (same_kind && same_t && L.all > 0) {
    L.qkv = std::make_unique<Linear>(fused_qkv(prefix + "attention.self.qkv", sq, sk, sv), engine, options);
  } else {
    L.q = std::make_unique<Linear>(std::move(sq), engine, options);
    L.k = std::make_unique<Linear>(std::move(sk), engine, options);
    L.v = std::make_unique<Linear>(std::move(sv), engine, options);
  }
}

void Model::Impl::choose_attention(Layer& L, const std::string& prefix) {
  const auto qk = file->site_quant(prefix + "attention.self.qk");
  const auto pv = file->site_quant(prefix + "attention.self.pv");
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
    if (L.int8_attention)
      ++info.int8_attention_layers;
    else
      L.attn.clear();  // the probe's primitives are kept for use only when the integer path is taken
  }
}

void Model::Impl::load_ffn(Layer& L, const std::string& prefix, Act act) {
  const std::int64_t H = info.hidden_size;
  // When both GEMMs are int8, the first writes s8 requantized for the second (one fused epilogue).
  LinearSpec s1 = spec(prefix + "intermediate.dense", H, L.inter, act);
  LinearSpec s2 = spec(prefix + "output.dense", L.inter, H, Act::None);
  if (s1.levels && s1.input_threshold > 0 && s2.levels && s2.input_threshold > 0 && L.inter > 0)
    s1.output_threshold = s2.input_threshold;
  L.ffn2 = std::make_unique<Linear>(std::move(s2), engine, options);
  s1.output_u8 = L.ffn2->u8_input();  // FFN1 writes the bytes FFN2 reads
  L.ffn1 = std::make_unique<Linear>(std::move(s1), engine, options);
}

void Model::Impl::load_layer(std::int64_t i, Act act) {
  Layer& L = layers[i];
  const std::int64_t H = info.hidden_size, d = info.head_dim;
  L.heads = info.heads[i];
  L.inter = info.intermediate_sizes[i];
  if (__builtin_mul_overflow(L.heads, d, &L.all))
    throw Error(file->json_path() + ": layer " + std::to_string(i) + " has " + std::to_string(L.heads) + " heads of " +
                std::to_string(d) + ", too many");
  const std::string p = "encoder.layer." + std::to_string(i) + ".";
  load_qkv(L, p);
  choose_attention(L, p);
  L.attn_out = make_linear(p + "attention.output.dense", L.all, H, Act::None);
  L.ln1_g = file->tensor(p + "attention.output.LayerNorm.weight", "f32", {H}).f32();
  L.ln1_b = file->tensor(p + "attention.output.LayerNorm.bias", "f32", {H}).f32();
  load_ffn(L, p, act);
  L.ln2_g = file->tensor(p + "output.LayerNorm.weight", "f32", {H}).f32();
  L.ln2_b = file->tensor(p + "output.LayerNorm.bias", "f32", {H}).f32();
  for (const Linear* l : {L.qkv.get(), L.q.get(), L.k.get(), L.v.get(), L.attn_out.get(), L.ffn1.get(), L.ffn2.get()})
    count_linear(l);
}

Act Model::Impl::read_config() {
  const ModelFile& f = *file;
  info.precision = f.string("precision");
  info.model_type = f.string("model_type");
  info.head = head_named(f.string("head"), f);
  info.hidden_act = f.string("hidden_act");
  const Act act = act_named(info.hidden_act, f);
  info.num_layers = f.integer("num_hidden_layers");
  info.hidden_size = f.integer("hidden_size");
  info.head_dim = f.integer("head_dim");
  info.num_labels = f.integer("num_labels");
  info.vocab_size = f.integer("vocab_size");
  info.max_position_embeddings = f.integer("max_position_embeddings");
  type_vocab = f.integer("type_vocab_size");
  eps = f.number("layer_norm_eps");
  info.file_bytes = f.file_bytes();
  if (info.num_layers < 0 || info.hidden_size <= 0 || info.head_dim <= 0 || info.num_labels <= 0 ||
      info.vocab_size <= 0 || info.max_position_embeddings <= 0 || type_vocab <= 0)
    throw Error(f.json_path() +
                ": sizes must be positive (hidden_size, head_dim, num_labels, vocab_size, max_position_embeddings, "
                "type_vocab_size)");
  const auto& lj = f.json().at("layers");
  if (!lj.is_array() || static_cast<std::int64_t>(lj.size()) != info.num_layers)
    throw Error(f.json_path() + ": 'layers' must list " + std::to_string(info.num_layers) + " layers");
  for (const auto& l : lj) {
    if (!l.is_object() || !l.contains("num_heads") || !l.contains("intermediate_size") ||
        !l["num_heads"].is_number_integer() || !l["intermediate_size"].is_number_integer() ||
        l["num_heads"].get<std::int64_t>() < 0 || l["intermediate_size"].get<std::int64_t>() < 0)
      throw Error(f.json_path() + ": every 'layers' entry needs integers num_heads >= 0 and intermediate_size >= 0");
    info.heads.push_back(l["num_heads"].get<std::int64_t>());
    info.intermediate_sizes.push_back(l["intermediate_size"].get<std::int64_t>());
  }
  return act;
}

void Model::Impl::load_embeddings() {
  const ModelFile& f = *file;
  const std::int64_t H = info.hidden_size;
  const auto* w = f.find("embeddings.word_embeddings.weight");
  if (w && w->dtype == "f16")
    word16 = f.tensor("embeddings.word_embeddings.weight", "f16", {info.vocab_size, H}).f16();
  else
    word = f.tensor("embeddings.word_embeddings.weight", "f32", {info.vocab_size, H}).f32();
  pos = f.tensor("embeddings.position_embeddings.weight", "f32", {info.max_position_embeddings, H}).f32();
  type = f.tensor("embeddings.token_type_embeddings.weight", "f32", {type_vocab, H}).f32();
  if (f.boolean("use_task_id", false)) {
    const auto* t = f.find("embeddings.task_type_embeddings.weight");
    if (!t || t->dtype != "f32" || t->shape.size() != 2 || t->shape[1] != H || t->shape[0] < 1)
      throw Error(f.json_path() + ": use_task_id needs tensor embeddings.task_type_embeddings.weight, f32 [types, " +
                  std::to_string(H) + "]");
    task0 = t->f32();
  }
  emb_g = f.tensor("embeddings.LayerNorm.weight", "f32", {H}).f32();
  emb_b = f.tensor("embeddings.LayerNorm.bias", "f32", {H}).f32();
}

void Model::Impl::load_head() {
  const std::int64_t H = info.hidden_size;
  switch (info.head) {
    case Head::SequenceClassification:
      pooler = make_linear("pooler.dense", H, H, Act::Tanh);
      head = make_linear("classifier", H, info.num_labels, Act::None);
      break;
    case Head::TokenClassification:
      head = make_linear("classifier", H, info.num_labels, Act::None);
      break;
    case Head::QuestionAnswering:
      if (info.num_labels != 2)
        throw Error(file->json_path() + ": a qa model has num_labels 2, found " + std::to_string(info.num_labels));
      head = make_linear("qa_outputs", H, 2, Act::None);
      break;
  }
  count_linear(pooler.get());
  count_linear(head.get());
}

void Model::Impl::load(const std::filesystem::path& dir) {
  if (options.kernels == Kernels::Own) {
    const detail::OwnKernels own = detail::own_kernels(options.isa);
    isa = own.isa;
    info.kernels =
        std::string("own: int8 ") + detail::gemm_isa_name(isa) + ", fp32 " + (own.fp32_avx512 ? "avx512" : "openblas");
  } else {
    info.kernels = "onednn";
  }
  file = std::make_unique<ModelFile>(dir);
  const Act act = read_config();
  load_embeddings();
  layers.resize(static_cast<std::size_t>(info.num_layers));
  for (std::int64_t i = 0; i < info.num_layers; ++i) load_layer(i, act);
  load_head();
}

}  // namespace slimpipe_runtime
