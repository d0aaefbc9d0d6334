#include "tiny_model.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "slimpipe/hash.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe_runtime::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

Json write_tiny_package(const fs::path& dir, const TinyModel& m, const TinyPackage& p) {
  write_tiny_model(dir, m);
  slimpipe::text::WordPieceTokenizer(p.vocab).save(dir);
  Json files = Json::array();
  for (const char* f : {"runtime.json", "weights.bin", "vocab.txt", "tokenizer_config.json"}) {
    slimpipe::Hasher h;
    h.update_file(dir / f);
    files.push_back({{"path", f}, {"bytes", fs::file_size(dir / f)}, {"sha1", h.hex()}});
  }
  Json labels = Json::array();
  for (std::int64_t i = 0; m.head != "qa" && i < m.num_labels; ++i)
    labels.push_back(p.labels.empty() ? "label" + std::to_string(i) : p.labels.at(static_cast<std::size_t>(i)));
  Json j = {{"format", "slimpipe-package"},
            {"version", 1},
            {"task", m.head},
            {"labels", labels},
            {"max_seq_length", p.max_seq_length},
            {"tokenizer", {{"vocab", "vocab.txt"}, {"config", "tokenizer_config.json"}}},
            {"files", files}};
  if (m.head == "qa") {
    j["doc_stride"] = p.doc_stride;
    j["max_query_length"] = p.max_query_length;
  }
  write_bytes(dir / "package.json", j.dump(1));
  return j;
}

std::filesystem::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(SLIMPIPE_BINARY_DIR) / "tests" / "runtime_tmp" / "torch_free" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error(file.string() + ": write failed");
}

namespace {

constexpr float kWeightThreshold = 0.5f;  // int8: every weight channel's threshold
constexpr float kInputThreshold = 4.0f;   // int8: every Linear's input threshold

// Random weights: one engine and its normal distribution (which keeps a second value between draws).
struct Stream {
  explicit Stream(std::uint64_t seed) : rng(seed) {}
  float next() { return normal(rng); }
  std::mt19937_64 rng;
  std::normal_distribution<float> normal{0.0f, 0.2f};
};

// weights.bin and runtime.json's 'tensors' and 'quant.sites', tensor by tensor.
struct Writer {
  bool int8 = false;
  std::string blob;
  Json tensors = Json::array(), sites = Json::object();

  // An f32 tensor: values of `random`, or `fill` where it is null.
  void f32(const std::string& name, const std::vector<std::int64_t>& shape, Stream* random, float fill) {
    const std::int64_t n = begin(name, "f32", shape, 4);
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = random ? random->next() : fill;
      blob.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
  }

  // An i8 tensor: the levels of values of `random` with threshold kWeightThreshold, or zeros where it is null.
  void i8(const std::string& name, const std::vector<std::int64_t>& shape, Stream* random) {
    const std::int64_t n = begin(name, "i8", shape, 1);
    for (std::int64_t i = 0; i < n; ++i) {
      const float level = random ? std::nearbyint(random->next() / kWeightThreshold * 127.0f) : 0.0f;
      blob.push_back(static_cast<char>(static_cast<std::int8_t>(std::clamp(level, -128.0f, 127.0f))));
    }
  }

  // weight [out, in] (zeros when zero_weight) and bias [out]; int8: levels, their thresholds and the site's.
  void linear(const std::string& site, std::int64_t in, std::int64_t out, Stream& random, bool zero_weight = false) {
    Stream* w = zero_weight ? nullptr : &random;
    if (int8) {
      i8(site + ".weight", {out, in}, w);
      f32(site + ".weight_threshold", {out}, nullptr, kWeightThreshold);
      sites[site] = {{"weight", "per_channel"}, {"input_threshold", kInputThreshold}};
    } else {
      f32(site + ".weight", {out, in}, w, 0.0f);
    }
    f32(site + ".bias", {out}, &random, 0.0f);
  }

  void norm(const std::string& site, std::int64_t H) {
    f32(site + ".weight", {H}, nullptr, 1.0f);
    f32(site + ".bias", {H}, nullptr, 0.0f);
  }

 private:
  // Pads the blob to 64 bytes, records the entry; returns the element count.
  std::int64_t begin(const std::string& name, const char* dtype, const std::vector<std::int64_t>& shape,
                     std::uint64_t size) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    while (blob.size() % 64) blob.push_back('\0');
    tensors.push_back({{"name", name},
                       {"dtype", dtype},
                       {"shape", shape},
                       {"offset", blob.size()},
                       {"bytes", static_cast<std::uint64_t>(n) * size}});
    return n;
  }
};

// The encoder layers' tensors; returns runtime.json's 'layers'.
Json write_layers(Writer& w, const TinyModel& m, Stream& main) {
  const std::int64_t H = m.hidden, d = H / m.heads;
  Json layers = Json::array();
  for (std::int64_t i = 0; i < m.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    const std::int64_t heads = m.layer_heads.empty() ? m.heads : m.layer_heads.at(static_cast<std::size_t>(i));
    Stream own(m.seed * 1000 + static_cast<std::uint64_t>(i) + 1);
    Stream& qkv = m.layer_heads.empty() ? main : own;
    for (const char* s : {"query", "key", "value"}) w.linear(p + "attention.self." + s, H, heads * d, qkv);
    w.linear(p + "attention.output.dense", heads * d, H, main, i == m.zero_attention_output_layer);
    w.norm(p + "attention.output.LayerNorm", H);
    w.linear(p + "intermediate.dense", H, m.intermediate, main);
    w.linear(p + "output.dense", m.intermediate, H, main);
    w.norm(p + "output.LayerNorm", H);
    if (w.int8) {
      w.sites[p + "attention.self.qk"] = {{"left_threshold", 3.0}, {"right_threshold", 3.0}};
      w.sites[p + "attention.self.pv"] = {{"left_threshold", 1.0}, {"right_threshold", 3.0}};
    }
    layers.push_back({{"num_heads", heads}, {"intermediate_size", m.intermediate}});
  }
  return layers;
}

}  // namespace

void write_tiny_model(const fs::path& dir, const TinyModel& m) {
  fs::create_directories(dir);
  Stream main(m.seed);
  Writer w;
  w.int8 = m.int8;
  const std::int64_t H = m.hidden;
  w.f32("embeddings.word_embeddings.weight", {m.vocab_size, H}, &main, 0.0f);
  w.f32("embeddings.position_embeddings.weight", {m.max_position_embeddings, H}, &main, 0.0f);
  w.f32("embeddings.token_type_embeddings.weight", {2, H}, &main, 0.0f);
  w.norm("embeddings.LayerNorm", H);
  const Json layers = write_layers(w, m, main);
  std::int64_t labels = m.num_labels;
  if (m.head == "seq_cls") {
    w.linear("pooler.dense", H, H, main);
    w.linear("classifier", H, labels, main);
  } else if (m.head == "token_cls") {
    w.linear("classifier", H, labels, main);
  } else {
    labels = 2;
    w.linear("qa_outputs", H, 2, main);
  }
  write_bytes(dir / "weights.bin", w.blob);
  Json j = {{"format", "slimpipe-runtime"},
            {"version", 1},
            {"precision", m.int8 ? "int8" : "fp32"},
            {"model_type", "bert"},
            {"head", m.head},
            {"num_labels", labels},
            {"vocab_size", m.vocab_size},
            {"hidden_size", H},
            {"head_dim", H / m.heads},
            {"num_hidden_layers", m.layers},
            {"max_position_embeddings", m.max_position_embeddings},
            {"type_vocab_size", 2},
            {"hidden_act", "gelu"},
            {"layer_norm_eps", 1e-12},
            {"layers", layers},
            {"weights_file", "weights.bin"},
            {"weights_bytes", w.blob.size()},
            {"tensors", w.tensors}};
  if (m.int8) j["quant"] = {{"bits", 8}, {"range", {-128, 127}}, {"rounding", "half_to_even"}, {"sites", w.sites}};
  write_bytes(dir / "runtime.json", j.dump(1) + "\n");
}

}  // namespace slimpipe_runtime::testing
