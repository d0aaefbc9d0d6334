// The "model" and "assessment" blocks of manifest.json (model_manifest.hpp): written from the types, read back
// with every field checked.
#include "slimpipe/model_manifest.hpp"

#include <system_error>

#include "slimpipe/error.hpp"

namespace slimpipe {

namespace {

// Reads the fields of one JSON object, naming "<where>: <block>.<key>" in every error.
class Fields {
 public:
  Fields(const Json& j, std::string where, std::string block) : j_(j), where_(std::move(where)), block_(block) {
    if (!j_.is_object()) fail("", "a JSON object, got " + std::string(j_.type_name()));
  }

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw Error(where_ + ": " + block_ + (key.empty() ? "" : "." + key) + ": expected " + expected);
  }
  bool has(const std::string& key) const { return j_.contains(key) && !j_[key].is_null(); }
  const Json& at(const std::string& key) const { return j_[key]; }

  std::string text(const std::string& key) const {
    if (!has(key)) return "";
    if (!j_[key].is_string()) fail(key, "a string, got " + std::string(j_[key].type_name()));
    return j_[key].get<std::string>();
  }
  std::optional<double> number(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    if (!j_[key].is_number()) fail(key, "a number, got " + std::string(j_[key].type_name()));
    return j_[key].get<double>();
  }
  std::optional<std::int64_t> integer(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    if (!j_[key].is_number_integer()) fail(key, "an integer, got " + std::string(j_[key].type_name()));
    return j_[key].get<std::int64_t>();
  }
  bool flag(const std::string& key) const {
    if (!has(key)) return false;
    if (!j_[key].is_boolean()) fail(key, "true or false, got " + std::string(j_[key].type_name()));
    return j_[key].get<bool>();
  }
  void check_version(int supported) const {
    const auto v = integer("version");
    if (!v) fail("version", "the contract version (an integer)");
    if (*v < 1 || *v > supported)
      fail("version", "version " + std::to_string(supported) + " or lower (this slimpipe reads up to " +
                          std::to_string(supported) + "), got " + std::to_string(*v) + "; upgrade slimpipe");
  }
  std::optional<ModelRef> model_ref(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    Fields f(j_[key], where_, block_ + "." + key);
    ModelRef r{f.text("id"), f.text("dir")};
    if (r.id.empty() && r.dir.empty()) fail(key, "{\"id\": ..., \"dir\": ...} naming the model");
    return r;
  }
  std::map<std::int64_t, Latency> latency(const std::string& key) const {
    std::map<std::int64_t, Latency> out;
    if (!has(key)) return out;
    if (!j_[key].is_object()) fail(key, "an object {\"batch_<N>\": {p50_ms, p90_ms, speedup}}");
    for (const auto& [name, value] : j_[key].items()) {
      std::int64_t batch = 0;
      try {
        std::size_t used = 0;
        batch = name.rfind("batch_", 0) == 0 ? std::stoll(name.substr(6), &used) : 0;
        if (used + 6 != name.size()) batch = 0;
      } catch (const std::exception&) {
        batch = 0;
      }
      if (batch <= 0) fail(key + "." + name, "a key batch_<N> with N > 0");
      Fields l(value, where_, block_ + "." + key + "." + name);
      Latency lat;
      lat.p50_ms = l.number("p50_ms").value_or(0.0);
      lat.p90_ms = l.number("p90_ms").value_or(0.0);
      lat.speedup = l.number("speedup");
      out[batch] = lat;
    }
    return out;
  }

 private:
  const Json& j_;
  std::string where_, block_;
};

Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json latency_json(const std::map<std::int64_t, Latency>& latency) {
  Json j = Json::object();
  for (const auto& [batch, l] : latency)
    j["batch_" + std::to_string(batch)] = {{"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms}, {"speedup", opt(l.speedup)}};
  return j;
}

// The size the manifest's file list records for `name`.
std::optional<std::int64_t> listed_size(const Json& manifest, const std::string& name) {
  if (!manifest.contains("files") || !manifest["files"].is_array()) return std::nullopt;
  for (const auto& f : manifest["files"])
    if (f.is_object() && f.value("path", std::string()) == name && f.contains("size") && f["size"].is_number_integer())
      return f["size"].get<std::int64_t>();
  return std::nullopt;
}

// A manifest written before the "model" block: its top-level fields, where it names a primary metric.
std::optional<ModelManifest> read_legacy(const Json& m, const std::string& where) {
  if (!m.contains("primary_metric") || !m["primary_metric"].is_string()) return std::nullopt;
  Fields f(m, where, "manifest");
  ModelManifest mm;
  mm.kind = f.text("kind");
  mm.primary_metric = f.text("primary_metric");
  mm.input_model = f.model_ref("input_model");
  mm.param_count = f.integer("param_count");
  mm.width = f.number("width");
  if (m.contains("metrics") && m["metrics"].is_object()) {
    const Fields metrics(m["metrics"], where, "metrics");
    mm.input_metric = metrics.number("input_" + mm.primary_metric);
    mm.origin_metric = metrics.number("origin_" + mm.primary_metric);
    mm.logit_sqnr_db = metrics.number("logit_sqnr_db");
  }
  return mm;
}

}  // namespace

Json ModelManifest::to_json() const {
  Json j = {{"version", kVersion}, {"kind", kind}, {"primary_metric", primary_metric}};
  if (input_model) j["input_model"] = {{"id", input_model->id}, {"dir", input_model->dir.string()}};
  if (input_metric) j["input_metric"] = *input_metric;
  if (origin_metric) j["origin_metric"] = *origin_metric;
  if (param_count) j["param_count"] = *param_count;
  if (model_bytes) j["model_bytes"] = *model_bytes;
  if (width) j["width"] = *width;
  if (!label.empty()) j["label"] = label;
  if (!parameters.empty()) j["parameters"] = parameters;
  if (logit_sqnr_db) j["logit_sqnr_db"] = *logit_sqnr_db;
  if (agreement) j["agreement"] = *agreement;
  if (!site_sensitivity.empty()) {
    Json sites = Json::array();
    for (const auto& [site, db] : site_sensitivity) sites.push_back({{"site", site}, {"output_sqnr_db", db}});
    j["site_sensitivity"] = sites;
  }
  if (!latency.empty()) j["latency"] = latency_json(latency);
  if (latency_noisy) j["latency_noisy"] = true;
  return j;
}

void ModelManifest::write(OutputArtifact& out) const {
  if (kind.empty()) throw Error(out.name() + ": ModelManifest::write: kind is empty");
  out.set_kind(kind);
  out.manifest()["model"] = to_json();
}

std::optional<ModelManifest> ModelManifest::read(const Json& manifest, const std::string& where) {
  if (!manifest.is_object()) return std::nullopt;
  std::optional<ModelManifest> mm;
  if (!manifest.contains("model") || manifest["model"].is_null()) {
    mm = read_legacy(manifest, where);
  } else {
    const Fields f(manifest["model"], where, "model");
    f.check_version(kVersion);
    mm.emplace();
    mm->kind = f.text("kind");
    if (mm->kind.empty()) f.fail("kind", "\"model\", \"quantized_model\" or \"evaluation\"");
    mm->primary_metric = f.text("primary_metric");
    mm->input_model = f.model_ref("input_model");
    mm->input_metric = f.number("input_metric");
    mm->origin_metric = f.number("origin_metric");
    mm->param_count = f.integer("param_count");
    mm->model_bytes = f.integer("model_bytes");
    mm->width = f.number("width");
    mm->label = f.text("label");
    if (f.has("parameters")) {
      if (!f.at("parameters").is_object()) f.fail("parameters", "an object");
      mm->parameters = f.at("parameters");
    }
    mm->logit_sqnr_db = f.number("logit_sqnr_db");
    mm->agreement = f.number("agreement");
    if (f.has("site_sensitivity")) {
      if (!f.at("site_sensitivity").is_array()) f.fail("site_sensitivity", "an array of {site, output_sqnr_db}");
      for (const auto& s : f.at("site_sensitivity")) {
        const Fields site(s, where, "model.site_sensitivity[]");
        const auto db = site.number("output_sqnr_db");
        if (site.text("site").empty() || !db) site.fail("", "{\"site\": <name>, \"output_sqnr_db\": <dB>}");
        mm->site_sensitivity.emplace_back(site.text("site"), *db);
      }
    }
    mm->latency = f.latency("latency");
    mm->latency_noisy = f.flag("latency_noisy");
  }
  if (mm && !mm->model_bytes) mm->model_bytes = listed_size(manifest, "model.safetensors");
  return mm;
}

std::optional<ModelManifest> ModelManifest::read(const Artifact& a) {
  return read(a.manifest(), (a.dir() / "manifest.json").string());
}

Json AssessedModel::to_json() const {
  Json j = Json::object();
  if (!id.empty()) j["id"] = id;
  if (!role.empty()) j["role"] = role;
  if (metric) j["metric"] = *metric;
  if (!latency.empty()) j["latency"] = latency_json(latency);
  if (latency_noisy) j["latency_noisy"] = true;
  if (delta_low && delta_high) j["delta_interval"] = Json::array({*delta_low, *delta_high});
  if (logit_sqnr_db) j["logit_sqnr_db"] = *logit_sqnr_db;
  if (agreement) j["agreement"] = *agreement;
  if (reference) j["reference"] = *reference;
  if (delta) j["delta"] = *delta;
  return j;
}

AssessedModel AssessedModel::from_json(const Json& j, const std::string& where, bool self) {
  const Fields f(j, where, self ? "assessment.self" : "assessment.models[]");
  AssessedModel m;
  m.id = f.text("id");
  if (m.id.empty() && !self) f.fail("id", "the id of the artifact measured");
  m.role = f.text("role");
  m.metric = f.number("metric");
  m.latency = f.latency("latency");
  m.latency_noisy = f.flag("latency_noisy");
  if (f.has("delta_interval")) {
    const Json& i = f.at("delta_interval");
    if (!i.is_array() || i.size() != 2 || !i[0].is_number() || !i[1].is_number())
      f.fail("delta_interval", "[low, high]");
    m.delta_low = i[0].get<double>();
    m.delta_high = i[1].get<double>();
  }
  m.logit_sqnr_db = f.number("logit_sqnr_db");
  m.agreement = f.number("agreement");
  m.reference = f.number("reference");
  m.delta = f.number("delta");
  return m;
}

Json Assessment::to_json() const {
  Json j = {{"version", kVersion}, {"baseline", baseline}, {"best", best}, {"models", Json::array()}};
  for (const auto& m : models) j["models"].push_back(m.to_json());
  if (self) j["self"] = self->to_json();
  if (!summary.empty()) j["summary"] = summary;
  if (!section.empty()) j["section"] = section;
  if (!details.empty()) j["details"] = details;
  return j;
}

void Assessment::write(OutputArtifact& out) const { out.manifest()["assessment"] = to_json(); }

std::optional<Assessment> Assessment::read(const Json& manifest, const std::string& where) {
  if (!manifest.is_object() || !manifest.contains("assessment") || manifest["assessment"].is_null())
    return std::nullopt;
  const Fields f(manifest["assessment"], where, "assessment");
  f.check_version(kVersion);
  Assessment a;
  a.baseline = f.text("baseline");
  a.best = f.text("best");
  if (f.has("models")) {
    if (!f.at("models").is_array()) f.fail("models", "an array of measured artifacts");
    for (const auto& m : f.at("models")) a.models.push_back(AssessedModel::from_json(m, where));
  }
  if (f.has("self")) {
    a.self = AssessedModel::from_json(f.at("self"), where, true);
  }
  if (f.has("summary")) {
    if (!f.at("summary").is_object()) f.fail("summary", "an object");
    a.summary = f.at("summary");
  }
  a.section = f.text("section");
  a.details = f.text("details");
  if (fs::path(a.details).is_absolute() || a.details.find("..") != std::string::npos)
    f.fail("details", "a file name inside the artifact's folder");
  return a;
}

std::optional<std::int64_t> model_weights_bytes(const fs::path& dir) {
  std::error_code ec;
  const auto size = fs::file_size(dir / "model.safetensors", ec);
  if (ec) return std::nullopt;
  return static_cast<std::int64_t>(size);
}

}  // namespace slimpipe
