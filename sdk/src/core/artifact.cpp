// Artifacts and their manifests.
#include "slimpipe/artifact.hpp"

#include <fstream>
#include <sstream>

#include "slimpipe/hash.hpp"

namespace slimpipe {

Artifact::Artifact(std::string id, fs::path dir, Json manifest)
    : id_(std::move(id)), dir_(std::move(dir)), manifest_(std::move(manifest)) {}

std::string Artifact::kind() const { return manifest_.value("kind", std::string()); }
std::string Artifact::hash() const { return manifest_.value("hash", std::string()); }

const Json& Artifact::metrics() const {
  static const Json empty = Json::object();
  auto it = manifest_.find("metrics");
  return it == manifest_.end() ? empty : *it;
}

fs::path Artifact::file(const std::string& relative) const {
  fs::path p = dir_ / relative;
  if (!fs::exists(p)) throw Error("artifact '" + id_ + "' (" + dir_.string() + ") has no file '" + relative + "'");
  return p;
}

std::optional<Artifact> Artifact::try_load(const fs::path& dir, std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<Artifact> {
    if (why) *why = "manifest.json " + what;
    return std::nullopt;
  };
  const fs::path mf = dir / "manifest.json";
  std::ifstream in(mf, std::ios::binary);
  if (!in) return fail("is missing");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) return fail("is empty");
  Json j = Json::parse(s, nullptr, false);
  if (j.is_discarded()) return fail("is not valid JSON (" + std::to_string(s.size()) + " bytes; a torn write?)");
  if (!j.is_object()) return fail("is not a JSON object");
  std::string id = j.value("id", dir.filename().string());  // before j is moved from
  return Artifact(std::move(id), dir, std::move(j));
}

Artifact Artifact::load(const fs::path& dir) {
  std::string why;
  auto a = try_load(dir, &why);
  if (!a) throw Error((dir / why).string());  // "<dir>/manifest.json is empty"
  return std::move(*a);
}

std::vector<std::string> Artifact::verify_files(bool hashes) const {
  std::vector<std::string> problems;
  auto it = manifest_.find("files");
  if (it == manifest_.end() || !it->is_array()) return problems;
  for (const auto& f : *it) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string()) continue;
    const std::string rel = f["path"].get<std::string>();
    const fs::path p = dir_ / rel;
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec) {
      problems.push_back(rel + " is missing");
      continue;
    }
    if (f.contains("size") && f["size"].is_number_unsigned() && f["size"].get<std::uintmax_t>() != size) {
      problems.push_back(rel + " is " + std::to_string(size) + " bytes, manifest says " + f["size"].dump());
      continue;
    }
    if (!hashes || !f.contains("sha1") || !f["sha1"].is_string()) continue;
    try {
      Hasher h;
      h.update_file(p);
      if (h.hex() != f["sha1"].get<std::string>())
        problems.push_back(rel + " does not match its SHA-1 in the manifest");
    } catch (const std::exception& e) {
      problems.push_back(rel + " cannot be read: " + e.what());
    }
  }
  return problems;
}

OutputArtifact::OutputArtifact(std::string name, fs::path dir) : name_(std::move(name)), dir_(std::move(dir)) {}

}  // namespace slimpipe
