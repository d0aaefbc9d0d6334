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

#include "kernels.hpp"
#include "model_impl.hpp"

namespace slimpipe_runtime {

std::int64_t Output::logits_size() const {
  return logits ? batch * seq * num_labels : 0;  // seq is 1 for seq_cls
}

const char* to_string(Head head) {
  switch (head) {
    case Head::SequenceClassification:
      return "seq_cls";
    case Head::TokenClassification:
      return "token_cls";
    case Head::QuestionAnswering:
      return "qa";
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
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

void Model::Impl::check_inputs(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am,
                               std::int64_t b, std::int64_t s) const {
  if (!ids) throw Error("run: input_ids is null");
  if (b <= 0 || s <= 0)
    throw Error("run: batch and seq must be > 0, got batch " + std::to_string(b) + ", seq " + std::to_string(s));
  if (s > info.max_position_embeddings)
    throw Error("run: seq " + std::to_string(s) + " exceeds max_position_embeddings " +
                std::to_string(info.max_position_embeddings));
  for (std::int64_t i = 0; i < b * s; ++i) {
    if (ids[i] < 0 || ids[i] >= info.vocab_size)
      throw Error("run: input_ids[" + std::to_string(i / s) + "][" + std::to_string(i % s) + "] = " +
                  std::to_string(ids[i]) + " is outside the vocabulary [0, " + std::to_string(info.vocab_size) + ")");
    if (types && (types[i] < 0 || types[i] >= type_vocab))
      throw Error("run: token_type_ids[" + std::to_string(i / s) + "][" + std::to_string(i % s) +
                  "] = " + std::to_string(types[i]) + ", expected 0.." + std::to_string(type_vocab - 1));
    if (am && am[i] != 0 && am[i] != 1)
      throw Error("run: attention_mask[" + std::to_string(i / s) + "][" + std::to_string(i % s) +
                  "] = " + std::to_string(am[i]) + ", expected 0 or 1");
  }
}

void Model::Impl::grow_workspace(std::int64_t b, std::int64_t s) {
  const std::int64_t M = b * s, H = info.hidden_size;
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
}

void Model::Impl::embed(const std::int64_t* ids, const std::int64_t* types, std::int64_t M, std::int64_t s) {
  const std::int64_t H = info.hidden_size;
  // Word + token type (+ task type 0) + position, then LayerNorm (transformers' order).
  auto embed_token = [&](std::int64_t t) {
    float* xr = x.data() + t * H;
    const float* ty = type + (types ? types[t] : 0) * H;
    const float* p = pos + (t % s) * H;
    if (word16)
      detail::half_to_float(word16 + ids[t] * H, xr, H);
    else
      std::memcpy(xr, word + ids[t] * H, sizeof(float) * H);
    for (std::int64_t c = 0; c < H; ++c) {
      float e = xr[c] + ty[c];
      if (task0) e += task0[c];
      xr[c] = e + p[c];
    }
  };
  if (detail::parallel_worth(3 * M * H, detail::kParallelMinElements)) {
#pragma omp parallel for schedule(static)
    for (std::int64_t t = 0; t < M; ++t) embed_token(t);
  } else {
    for (std::int64_t t = 0; t < M; ++t) embed_token(t);
  }
  detail::layer_norm(x.data(), nullptr, emb_g, emb_b, eps, x.data(), M, H);
}

void Model::Impl::run_layer(Layer& L, std::int64_t b, std::int64_t s) {
  const std::int64_t M = b * s, H = info.hidden_size;
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

void Model::Impl::run_head(std::int64_t b, std::int64_t s) {
  const std::int64_t M = b * s, H = info.hidden_size;
  out = Output{};
  out.batch = b;
  out.seq = s;
  out.num_labels = info.num_labels;
  switch (info.head) {
    case Head::SequenceClassification:
      for (std::int64_t bi = 0; bi < b; ++bi)
        std::memcpy(pooled_in.data() + bi * H, x.data() + bi * s * H, sizeof(float) * H);
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
}

const Output& Model::Impl::run(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* am,
                               std::int64_t b, std::int64_t s) {
  check_inputs(ids, types, am, b, s);
  grow_workspace(b, s);
  const std::int64_t M = b * s;
  const float lowest = std::numeric_limits<float>::lowest();
  for (std::int64_t i = 0; i < M; ++i) mask[i] = (am && am[i] == 0) ? lowest : 0.0f;
  embed(ids, types, M, s);
  for (Layer& L : layers) run_layer(L, b, s);
  run_head(b, s);
  return out;
}

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
                  " exceeds runtime.json's max_position_embeddings " +
                  std::to_string(impl->info.max_position_embeddings));
  }
  return Model(std::move(impl));
}

const Output& Model::run(const std::int64_t* ids, const std::int64_t* types, const std::int64_t* mask,
                         std::int64_t batch, std::int64_t seq) {
  return impl_->run(ids, types, mask, batch, seq);
}

const Output& Model::run(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& types,
                         const std::vector<std::int64_t>& mask, std::int64_t batch, std::int64_t seq) {
  const auto n = static_cast<std::size_t>(batch * seq);
  if (batch <= 0 || seq <= 0 || ids.size() != n)
    throw Error("run: input_ids has " + std::to_string(ids.size()) +
                " values, expected batch*seq = " + std::to_string(batch * seq));
  if (!types.empty() && types.size() != n)
    throw Error("run: token_type_ids has " + std::to_string(types.size()) + " values, expected " + std::to_string(n) +
                " (or none)");
  if (!mask.empty() && mask.size() != n)
    throw Error("run: attention_mask has " + std::to_string(mask.size()) + " values, expected " + std::to_string(n) +
                " (or none)");
  return impl_->run(ids.data(), types.empty() ? nullptr : types.data(), mask.empty() ? nullptr : mask.data(), batch,
                    seq);
}

const ModelInfo& Model::info() const { return impl_->info; }
const PackageInfo* Model::package() const { return impl_->package ? &*impl_->package : nullptr; }
std::uint64_t Model::workspace_bytes() const { return impl_->workspace_bytes(); }

}  // namespace slimpipe_runtime
