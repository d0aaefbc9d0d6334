// Artifacts and their manifests.
#include "slimpipe/artifact.hpp"

#include <fstream>

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

Artifact Artifact::load(const fs::path& dir) {
  fs::path mf = dir / "manifest.json";
  std::ifstream in(mf);
  if (!in) throw Error(mf.string() + ": missing manifest");
  Json j;
  try {
    j = Json::parse(in);
  } catch (const std::exception& e) {
    throw Error(mf.string() + ": corrupt manifest: " + e.what());
  }
  if (!j.is_object()) throw Error(mf.string() + ": manifest is not a JSON object");
  std::string id = j.value("id", dir.filename().string());  // before j is moved from
  return Artifact(std::move(id), dir, std::move(j));
}

OutputArtifact::OutputArtifact(std::string name, fs::path dir) : name_(std::move(name)), dir_(std::move(dir)) {}

}  // namespace slimpipe
