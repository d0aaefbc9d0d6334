// Writer of the runtime format (docs/runtime.md): tensors in module-path order, each at a 64-byte aligned
// offset of weights.bin, described by runtime.json. Files are written under temporary names and renamed, so
// a reader never sees half an export.
#include "slimpipe/export/runtime_export.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::exporter {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr std::uint64_t kAlign = 64;

class BlobWriter {
 public:
  // Written as "<file>.tmp", renamed to `file` by finish(); errors name `file`.
  BlobWriter(const fs::path& file, std::string where) : where_(std::move(where)), out_(file, /*atomic=*/true) {}
  // Appends a contiguous CPU tensor (float32, float16 or int8) and records it in the table.
  void add(const std::string& name, const at::Tensor& value) {
    at::Tensor t = value.detach().to(at::kCPU).contiguous();
    const char* dtype = nullptr;
    if (t.scalar_type() == at::kFloat) dtype = "f32";
    else if (t.scalar_type() == at::kHalf) dtype = "f16";
    else if (t.scalar_type() == at::kChar) dtype = "i8";
    else throw Error(where_ + ": tensor " + name + " has an unsupported dtype (expected float32, float16 or int8)");
    if (names_.count(name)) throw Error(where_ + ": tensor " + name + " written twice");
    names_.insert(name);
    pad_to(kAlign);
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    Json shape = Json::array();
    for (auto d : t.sizes()) shape.push_back(d);
    table_.push_back({{"name", name}, {"dtype", dtype}, {"shape", shape}, {"offset", offset_}, {"bytes", bytes}});
    out_.write(t.data_ptr(), static_cast<std::size_t>(bytes));
    offset_ += bytes;
  }
  std::uint64_t finish() {
    out_.close();
    return offset_;
  }
  Json table() const { return table_; }

 private:
  void pad_to(std::uint64_t align) {
    static const char zeros[kAlign] = {};
    const std::uint64_t pad = (align - offset_ % align) % align;
    out_.write(zeros, static_cast<std::size_t>(pad));
    offset_ += pad;
  }
  std::string where_;
  CheckedFile out_;
  std::uint64_t offset_ = 0;
  Json table_ = Json::array();
  std::set<std::string> names_;
};

const char* head_name(nn::TaskHead head) {
  switch (head) {
    case nn::TaskHead::SequenceClassification: return "seq_cls";
    case nn::TaskHead::TokenClassification: return "token_cls";
    case nn::TaskHead::QuestionAnswering: return "qa";
    case nn::TaskHead::None: break;
  }
  return nullptr;
}

void write(const nn::TaskModelImpl& model, const quant::FakeQuantPlan* plan, const fs::path& dir,
           const RuntimeExportOptions& options) {
  const std::string where = dir.string();
  const char* head = head_name(model.head());
  if (!head) throw Error(where + ": runtime export needs a task head (seq_cls, token_cls or qa), the model is a bare encoder");
  const nn::EncoderConfig& c = model.config();
  if (plan) {
    if (plan->options.bits != 8 || !plan->options.onnx_format)
      throw Error(where + ": runtime export supports 8-bit onnx_format plans (range [-128, 127]), the plan has " +
                  std::to_string(plan->options.bits) + " bits" + (plan->options.onnx_format ? "" : ", legacy format"));
  }
  auto params = model.named_parameters(/*recurse=*/true);

  // Linear sites of this model (module paths of the weights' owners).
  std::set<std::string> linear_sites;
  for (const auto& item : params) {
    const std::string& name = item.key();
    const std::string suffix = ".weight";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        item.value().dim() == 2 && name.find("embeddings") == std::string::npos)
      linear_sites.insert(name.substr(0, name.size() - suffix.size()));
  }
  if (plan) {
    for (const auto& [site, q] : plan->weights) {
      if (!linear_sites.count(site)) throw Error(where + ": the plan quantizes '" + site + "', which is not a Linear site of the model");
      const at::Tensor& w = params[site + ".weight"];
      if (!q.levels.defined() || q.levels.scalar_type() != at::kChar || q.levels.sizes() != w.sizes())
        throw Error(where + ": int8 levels of '" + site + "' must be int8 of shape " + nn::shape_string(w.sizes()));
      if (q.bits != 8) throw Error(where + ": weight of '" + site + "' is " + std::to_string(q.bits) + "-bit, expected 8");
      const bool per_channel = q.per_channel();
      if (per_channel && (q.axis != 0 || q.thresholds.numel() != w.size(0)))
        throw Error(where + ": weight thresholds of '" + site + "' must be per output channel (axis 0, " +
                    std::to_string(w.size(0)) + " values) or per tensor");
      if (!per_channel && q.thresholds.numel() != 1)
        throw Error(where + ": per-tensor weight threshold of '" + site + "' must be one value");
    }
    for (const auto& [key, t] : plan->activation_thresholds) {
      const bool matmul = key.site.size() > 3 && (key.site.compare(key.site.size() - 3, 3, ".qk") == 0 ||
                                                  key.site.compare(key.site.size() - 3, 3, ".pv") == 0);
      if (!(linear_sites.count(key.site) && key.operand == 0) && !(matmul && (key.operand == 0 || key.operand == 1)))
        throw Error(where + ": the plan has an activation threshold for '" + key.site + "' operand " +
                    std::to_string(key.operand) + ", which is not an activation operand of the model");
      if (!(t > 0)) throw Error(where + ": activation threshold of '" + key.site + "' is " + std::to_string(t) + ", expected > 0");
    }
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(where + ": cannot create the folder: " + ec.message());
  fs::remove(dir / kRuntimeJson, ec);  // a reader must not pair an old runtime.json with new weights

  BlobWriter blob(dir / kRuntimeWeights, where);
  Json quant = Json::object();
  Json sites = Json::object();
  for (const auto& item : params) {
    const std::string& name = item.key();
    std::string site = name.size() > 7 ? name.substr(0, name.size() - 7) : "";
    if (plan && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && plan->weights.count(site)) {
      const quant::QuantizedWeight& q = plan->weights.at(site);
      blob.add(name, q.levels);
      blob.add(site + ".weight_threshold", q.thresholds.to(at::kFloat).reshape({-1}).clamp_min(quant::kMinThreshold));
      continue;
    }
    if (plan && options.f16_word_embeddings && name == "embeddings.word_embeddings.weight") {
      blob.add(name, item.value().to(at::kHalf));  // round to nearest even
      continue;
    }
    blob.add(name, item.value().to(at::kFloat));
  }
  if (plan) {
    for (const auto& site : linear_sites) {
      Json s = Json::object();
      auto w = plan->weights.find(site);
      if (w != plan->weights.end()) s["weight"] = w->second.per_channel() ? "per_channel" : "per_tensor";
      auto t = plan->activation_thresholds.find({site, 0});
      if (t != plan->activation_thresholds.end()) s["input_threshold"] = t->second;
      if (!s.empty()) sites[site] = s;
    }
    for (std::int64_t i = 0; i < c.num_hidden_layers; ++i)
      for (const char* mm : {"qk", "pv"}) {
        const std::string site = "encoder.layer." + std::to_string(i) + ".attention.self." + mm;
        Json s = Json::object();
        for (int operand : {0, 1}) {
          auto t = plan->activation_thresholds.find({site, operand});
          if (t != plan->activation_thresholds.end()) s[operand == 0 ? "left_threshold" : "right_threshold"] = t->second;
        }
        if (!s.empty()) sites[site] = s;
      }
    quant["bits"] = 8;
    quant["range"] = {-128, 127};
    quant["rounding"] = "half_to_even";
    quant["sites"] = sites;
  }
  const std::uint64_t bytes = blob.finish();

  Json layers = Json::array();
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers.push_back({{"num_heads", c.num_heads(i)}, {"intermediate_size", c.intermediate_size_of(i)}});
  Json j = {
      {"format", "slimpipe-runtime"},
      {"version", kRuntimeFormatVersion},
      {"precision", plan ? "int8" : "fp32"},
      {"model_type", c.model_type},
      {"head", head},
      {"num_labels", model.head() == nn::TaskHead::QuestionAnswering ? 2 : c.num_labels},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"head_dim", c.head_dim()},
      {"num_hidden_layers", c.num_hidden_layers},
      {"hidden_act", c.hidden_act},
      {"layer_norm_eps", c.layer_norm_eps},
      {"max_position_embeddings", c.max_position_embeddings},
      {"type_vocab_size", c.type_vocab_size},
      {"use_task_id", c.use_task_id},
      {"layers", layers},
      {"weights_file", kRuntimeWeights},
      {"weights_bytes", bytes},
      {"tensors", blob.table()},
  };
  if (plan) j["quant"] = quant;
  // Last, and only once weights.bin is complete and in place: runtime.json is what makes the folder an export.
  write_file_atomic(dir / kRuntimeJson, j.dump(1) + "\n");
}

}  // namespace

void export_runtime(const nn::TaskModelImpl& model, const fs::path& dir) { write(model, nullptr, dir, {}); }

void export_runtime(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan, const fs::path& dir,
                    const RuntimeExportOptions& options) {
  write(model, &plan, dir, options);
}

}  // namespace slimpipe::exporter
