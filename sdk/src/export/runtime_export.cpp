// Writer of the runtime format (docs/runtime.md): tensors in module-path order, each at a 64-byte aligned
// offset of weights.bin, described by runtime.json; then the package (vocab.txt, tokenizer_config.json and
// package.json with the task, labels, sequence lengths and every file's size and SHA-1). Files are written under
// temporary names and renamed, so a reader never sees half an export; package.json comes last.
#include "slimpipe/export/runtime_export.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/nn/shape_text.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

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
    if (t.scalar_type() == at::kFloat)
      dtype = "f32";
    else if (t.scalar_type() == at::kHalf)
      dtype = "f16";
    else if (t.scalar_type() == at::kChar)
      dtype = "i8";
    else
      throw Error(where_ + ": tensor " + name + " has an unsupported dtype (expected float32, float16 or int8)");
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
    case nn::TaskHead::SequenceClassification:
      return "seq_cls";
    case nn::TaskHead::TokenClassification:
      return "token_cls";
    case nn::TaskHead::QuestionAnswering:
      return "qa";
    case nn::TaskHead::None:
      break;
  }
  return nullptr;
}

// A [task]'s sequence lengths and decoding options, as a TaskPackageScope holds them.
struct TaskSettings {
  std::optional<std::int64_t> max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length;
  std::optional<bool> strict;
  std::optional<std::string> scheme;
};

// The TaskPackageScopes alive, oldest first; the last is in force. Never destroyed, so that a scope ending during
// static destruction still finds it.
struct OpenScopes {
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, TaskSettings>> open;
  std::uint64_t next_id = 1;
};
OpenScopes& open_scopes() {
  static OpenScopes* scopes = new OpenScopes;
  return *scopes;
}

// The settings of the scope in force; none: every field unset.
TaskSettings task_settings_in_force() {
  OpenScopes& s = open_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.open.empty() ? TaskSettings{} : s.open.back().second;
}

TaskSettings task_settings_of(const Params& task_params) {
  TaskSettings t;
  auto read = [&](const char* key, std::optional<std::int64_t>& out) {
    if (task_params.has(key) && task_params.raw(key).is_number_integer() && task_params.get_int(key) > 0)
      out = task_params.get_int(key);
  };
  read("max_seq_length", t.max_seq_length);
  read("doc_stride", t.doc_stride);
  read("max_query_length", t.max_query_length);
  read("n_best_size", t.n_best_size);
  read("max_answer_length", t.max_answer_length);
  if (task_params.has("strict") && task_params.raw("strict").is_boolean()) t.strict = task_params.get_bool("strict");
  if (task_params.has("scheme") && task_params.raw("scheme").is_string()) t.scheme = task_params.get_string("scheme");
  return t;
}

// What the package holds besides the model, resolved and checked before anything is written.
struct PackageContents {
  std::optional<text::WordPieceTokenizer> tokenizer;
  fs::path tokenizer_dir;
  std::int64_t max_seq_length = 0, doc_stride = 0, max_query_length = 0;
  std::int64_t n_best_size = 0, max_answer_length = 0;  // qa
  bool strict = false;                                  // token_cls
  std::string scheme;
};

std::int64_t checked_length(std::optional<std::int64_t> value, const char* key, std::int64_t fallback,
                            std::int64_t max_position_embeddings, const std::string& where) {
  const std::int64_t v = value.value_or(fallback);
  if (v < 1) throw Error(where + ": package " + key + " " + std::to_string(v) + ", expected >= 1");
  if (std::string(key) == "max_seq_length" && v > max_position_embeddings)
    throw Error(where + ": package max_seq_length " + std::to_string(v) +
                " exceeds the model's max_position_embeddings " + std::to_string(max_position_embeddings));
  return v;
}

PackageContents resolve_package(const nn::TaskModelImpl& model, const fs::path& dir, const PackageSettings& settings) {
  const std::string where = dir.string();
  const nn::EncoderConfig& c = model.config();
  PackageContents p;
  std::error_code ec;
  if (settings.tokenizer_dir) {
    p.tokenizer_dir = *settings.tokenizer_dir;
  } else if (fs::is_regular_file(dir.parent_path() / "vocab.txt", ec)) {
    p.tokenizer_dir = dir.parent_path();
  }
  if (!p.tokenizer_dir.empty()) {
    if (fs::equivalent(p.tokenizer_dir, dir, ec))
      throw Error(where + ": the tokenizer folder is the export folder itself; expected the model's folder");
    p.tokenizer = text::WordPieceTokenizer::from_directory(p.tokenizer_dir);
    if (static_cast<std::int64_t>(p.tokenizer->vocab_size()) > c.vocab_size)
      throw Error((p.tokenizer_dir / "vocab.txt").string() + ": " + std::to_string(p.tokenizer->vocab_size()) +
                  " entries, more than the model's vocab_size " + std::to_string(c.vocab_size));
  }
  const TaskSettings task = task_settings_in_force();
  std::int64_t fallback = c.max_position_embeddings;
  if (p.tokenizer)
    fallback = static_cast<std::int64_t>(std::min<std::size_t>(p.tokenizer->options().model_max_length,
                                                               static_cast<std::size_t>(c.max_position_embeddings)));
  p.max_seq_length = checked_length(settings.max_seq_length ? settings.max_seq_length : task.max_seq_length,
                                    "max_seq_length", fallback, c.max_position_embeddings, where);
  if (model.head() == nn::TaskHead::QuestionAnswering) {
    p.doc_stride = checked_length(settings.doc_stride ? settings.doc_stride : task.doc_stride, "doc_stride", 128,
                                  c.max_position_embeddings, where);
    p.max_query_length = checked_length(settings.max_query_length ? settings.max_query_length : task.max_query_length,
                                        "max_query_length", 64, c.max_position_embeddings, where);
    // The qa task's decoding defaults (n_best_size 20, max_answer_length 30).
    p.n_best_size = checked_length(settings.n_best_size ? settings.n_best_size : task.n_best_size, "n_best_size", 20,
                                   c.max_position_embeddings, where);
    p.max_answer_length =
        checked_length(settings.max_answer_length ? settings.max_answer_length : task.max_answer_length,
                       "max_answer_length", 30, c.max_position_embeddings, where);
  }
  if (model.head() == nn::TaskHead::TokenClassification) {
    // The token_cls task's chunking defaults (strict = false, scheme "bio").
    p.strict = settings.strict.value_or(task.strict.value_or(false));
    p.scheme = settings.scheme.value_or(task.scheme.value_or("bio"));
    if (p.scheme != "bio" && p.scheme != "bioes")
      throw Error(where + ": package scheme '" + p.scheme + "', expected bio or bioes");
  }
  return p;
}

Json file_record(const fs::path& dir, const std::string& name) {
  const fs::path f = dir / name;
  std::error_code ec;
  const auto bytes = fs::file_size(f, ec);
  if (ec) throw Error(f.string() + ": cannot read its size: " + ec.message());
  Hasher h;
  h.update_file(f);
  return {{"path", name}, {"bytes", static_cast<std::uint64_t>(bytes)}, {"sha1", h.hex()}};
}

// vocab.txt, tokenizer_config.json and, last, package.json.
void write_package(const nn::TaskModelImpl& model, const fs::path& dir, const PackageContents& p, const char* head) {
  const nn::EncoderConfig& c = model.config();
  std::error_code ec;
  std::vector<std::string> files = {kRuntimeJson, kRuntimeWeights};
  Json tokenizer = nullptr;
  if (p.tokenizer) {
    p.tokenizer->save(dir);
    files.push_back("vocab.txt");
    files.push_back("tokenizer_config.json");
    tokenizer = {{"vocab", "vocab.txt"}, {"config", "tokenizer_config.json"}};
  } else {
    fs::remove(dir / "vocab.txt", ec);
    fs::remove(dir / "tokenizer_config.json", ec);
  }
  Json labels = Json::array();
  if (model.head() != nn::TaskHead::QuestionAnswering)
    for (std::int64_t i = 0; i < c.num_labels; ++i) {
      auto it = c.id2label.find(i);
      labels.push_back(it != c.id2label.end() ? it->second : "LABEL_" + std::to_string(i));  // transformers' names
    }
  Json records = Json::array();
  for (const auto& f : files) records.push_back(file_record(dir, f));
  Json j = {
      {"format", "slimpipe-package"},       {"version", kPackageFormatVersion}, {"task", head},    {"labels", labels},
      {"max_seq_length", p.max_seq_length}, {"tokenizer", tokenizer},           {"files", records}};
  if (model.head() == nn::TaskHead::QuestionAnswering) {
    j["doc_stride"] = p.doc_stride;
    j["max_query_length"] = p.max_query_length;
    j["n_best_size"] = p.n_best_size;
    j["max_answer_length"] = p.max_answer_length;
  }
  if (model.head() == nn::TaskHead::TokenClassification) {
    j["strict"] = p.strict;
    j["scheme"] = p.scheme;
  }
  write_file_atomic(dir / kPackageJson, j.dump(1) + "\n");
}

void write(const nn::TaskModelImpl& model, const quant::FakeQuantPlan* plan, const fs::path& dir,
           const RuntimeExportOptions& options, const PackageSettings& package = {}) {
  const std::string where = dir.string();
  const char* head = head_name(model.head());
  if (!head)
    throw Error(where + ": runtime export needs a task head (seq_cls, token_cls or qa), the model is a bare encoder");
  const nn::EncoderConfig& c = model.config();
  const PackageContents contents = resolve_package(model, dir, package);
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
      if (!linear_sites.count(site))
        throw Error(where + ": the plan quantizes '" + site + "', which is not a Linear site of the model");
      const at::Tensor& w = params[site + ".weight"];
      if (!q.levels.defined() || q.levels.scalar_type() != at::kChar || q.levels.sizes() != w.sizes())
        throw Error(where + ": int8 levels of '" + site + "' must be int8 of shape " + nn::shape_string(w.sizes()));
      if (q.bits != 8)
        throw Error(where + ": weight of '" + site + "' is " + std::to_string(q.bits) + "-bit, expected 8");
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
      if (!(t > 0))
        throw Error(where + ": activation threshold of '" + key.site + "' is " + std::to_string(t) + ", expected > 0");
    }
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(where + ": cannot create the folder: " + ec.message());
  fs::remove(dir / kPackageJson, ec);  // nor an old package with new files
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
          if (t != plan->activation_thresholds.end())
            s[operand == 0 ? "left_threshold" : "right_threshold"] = t->second;
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
  write_package(model, dir, contents, head);
}

}  // namespace

TaskPackageScope::TaskPackageScope(const Params& task_params) {
  TaskSettings settings = task_settings_of(task_params);
  OpenScopes& s = open_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  id_ = s.next_id++;
  s.open.emplace_back(id_, std::move(settings));
}

TaskPackageScope::~TaskPackageScope() {
  OpenScopes& s = open_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.open.erase(std::remove_if(s.open.begin(), s.open.end(), [&](const auto& entry) { return entry.first == id_; }),
               s.open.end());
}

void export_runtime_package(const fs::path& hf_dir, const fs::path& out, const std::string& head,
                            const PackageSettings& settings) {
  io::LoadOptions load;
  if (head == "seq_cls")
    load.head = nn::TaskHead::SequenceClassification;
  else if (head == "token_cls")
    load.head = nn::TaskHead::TokenClassification;
  else if (head == "qa")
    load.head = nn::TaskHead::QuestionAnswering;
  else if (!head.empty())
    throw UsageError("--task " + head + ": expected seq_cls, token_cls or qa");
  std::error_code ec;
  if (!fs::is_directory(hf_dir, ec))
    throw Error(hf_dir.string() + ": not a folder (expected a Hugging Face checkpoint folder)");
  if (!fs::exists(hf_dir / "config.json", ec))
    throw Error((hf_dir / "config.json").string() + ": file not found (expected a Hugging Face checkpoint folder: " +
                "config.json, model.safetensors or pytorch_model.bin, vocab.txt, tokenizer_config.json)");
  PackageSettings s = settings;
  if (!s.tokenizer_dir) s.tokenizer_dir = hf_dir;
  if (!fs::exists(*s.tokenizer_dir / "vocab.txt", ec))
    throw Error((*s.tokenizer_dir / "vocab.txt").string() +
                ": file not found (a runtime package needs the vocabulary)");
  io::LoadedModel loaded = io::load_model(hf_dir, load);
  if (loaded.model->head() == nn::TaskHead::None)
    throw Error((hf_dir / "config.json").string() +
                ": 'architectures' names no task head (expected e.g. BertForSequenceClassification); pass --task " +
                "seq_cls, token_cls or qa");
  loaded.model->to(at::kCPU);
  write(*loaded.model, nullptr, out, {}, s);
}

void export_runtime(const nn::TaskModelImpl& model, const fs::path& dir) { write(model, nullptr, dir, {}); }

void export_runtime(const nn::TaskModelImpl& model, const fs::path& dir, const PackageSettings& package) {
  write(model, nullptr, dir, {}, package);
}

void export_runtime(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan, const fs::path& dir,
                    const RuntimeExportOptions& options) {
  write(model, &plan, dir, options);
}

}  // namespace slimpipe::exporter
