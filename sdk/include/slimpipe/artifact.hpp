// Artifacts: directories that strategies read and write, each described by manifest.json.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe {

namespace fs = std::filesystem;

// A finished artifact: a directory plus its manifest. manifest.json holds at least
//   id, kind, node, plugin {name, version}, params, parents [{id, hash}], files [{path, size, sha1}],
//   size_bytes, metrics {}, hash
// and whatever the producing plugin added (param_count, load, ...).
class SLIMPIPE_API Artifact {
 public:
  Artifact() = default;
  Artifact(std::string id, fs::path dir, Json manifest);

  const std::string& id() const { return id_; }
  const fs::path& dir() const { return dir_; }
  const Json& manifest() const { return manifest_; }

  std::string kind() const;
  std::string hash() const;
  // Path of a file inside the artifact; throws Error naming the artifact when it is absent.
  fs::path file(const std::string& relative) const;
  const Json& metrics() const;

  // Checks the files the manifest lists against the folder: each exists with the recorded size and, with
  // `hashes`, the recorded SHA-1 (an entry without one, from an older manifest, is checked by size). One
  // line per problem, starting with the file's path inside the artifact ("model.safetensors is 1000 bytes,
  // manifest says 4194304", "model.safetensors is missing", "model.safetensors does not match its SHA-1");
  // empty when the artifact is intact. Without hashes it only stats the files.
  std::vector<std::string> verify_files(bool hashes) const;

  // Reads <dir>/manifest.json; throws Error naming the file on a missing or corrupt manifest.
  static Artifact load(const fs::path& dir);
  // As load, but a manifest that is absent, empty, unparseable or not a JSON object is no artifact:
  // std::nullopt, with what is wrong in *why ("manifest.json is empty", ...).
  static std::optional<Artifact> try_load(const fs::path& dir, std::string* why = nullptr);

 private:
  std::string id_;
  fs::path dir_;
  Json manifest_ = Json::object();
};

// An artifact being written by a strategy. Files go under dir() (a temporary directory that the
// host renames into place once run() returns); manifest() may be filled with kind, metrics and
// any other fields. The host adds files, sizes, parents and the content hash.
class SLIMPIPE_API OutputArtifact {
 public:
  OutputArtifact(std::string name, fs::path dir);

  const std::string& name() const { return name_; }
  const fs::path& dir() const { return dir_; }
  Json& manifest() { return manifest_; }
  const Json& manifest() const { return manifest_; }

  void set_kind(const std::string& kind) { manifest_["kind"] = kind; }
  void set_metric(const std::string& name, double value) { manifest_["metrics"][name] = value; }

 private:
  std::string name_;
  fs::path dir_;
  Json manifest_ = Json::object();
};

}  // namespace slimpipe
