#include "tiny_model.hpp"

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

void write_tiny_model(const fs::path& dir, const TinyModel& m) {
  fs::create_directories(dir);
  std::mt19937_64 rng(m.seed);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  std::string blob;
  Json tensors = Json::array();
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float fill, bool random) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    while (blob.size() % 64) blob.push_back('\0');
    const std::uint64_t offset = blob.size();
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = random ? normal(rng) : fill;
      blob.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    tensors.push_back({{"name", name},
                       {"dtype", "f32"},
                       {"shape", shape},
                       {"offset", offset},
                       {"bytes", static_cast<std::uint64_t>(n) * 4}});
  };
  const std::int64_t H = m.hidden;
  auto linear = [&](const std::string& site, std::int64_t in, std::int64_t out) {
    add(site + ".weight", {out, in}, 0, true);
    add(site + ".bias", {out}, 0, true);
  };
  auto norm = [&](const std::string& site) {
    add(site + ".weight", {H}, 1.0f, false);
    add(site + ".bias", {H}, 0.0f, false);
  };
  add("embeddings.word_embeddings.weight", {m.vocab_size, H}, 0, true);
  add("embeddings.position_embeddings.weight", {m.max_position_embeddings, H}, 0, true);
  add("embeddings.token_type_embeddings.weight", {2, H}, 0, true);
  norm("embeddings.LayerNorm");
  Json layers = Json::array();
  for (std::int64_t i = 0; i < m.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    for (const char* s : {"query", "key", "value"}) linear(p + "attention.self." + s, H, H);
    linear(p + "attention.output.dense", H, H);
    norm(p + "attention.output.LayerNorm");
    linear(p + "intermediate.dense", H, m.intermediate);
    linear(p + "output.dense", m.intermediate, H);
    norm(p + "output.LayerNorm");
    layers.push_back({{"num_heads", m.heads}, {"intermediate_size", m.intermediate}});
  }
  std::int64_t labels = m.num_labels;
  if (m.head == "seq_cls") {
    linear("pooler.dense", H, H);
    linear("classifier", H, labels);
  } else if (m.head == "token_cls") {
    linear("classifier", H, labels);
  } else {
    labels = 2;
    linear("qa_outputs", H, 2);
  }
  write_bytes(dir / "weights.bin", blob);
  const Json j = {{"format", "slimpipe-runtime"},
                  {"version", 1},
                  {"precision", "fp32"},
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
                  {"weights_bytes", blob.size()},
                  {"tensors", tensors}};
  write_bytes(dir / "runtime.json", j.dump(1) + "\n");
}

}  // namespace slimpipe_runtime::testing
