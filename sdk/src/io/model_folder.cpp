// Model folders between nodes (model_folder.hpp).
#include "slimpipe/io/model_folder.hpp"

#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::io {

namespace {

// A hard link where the file system allows, else a copy.
void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

}  // namespace

void link_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    const fs::path target = to / e.path().filename();
    if (e.is_directory()) {
      link_tree(e.path(), target);
      continue;
    }
    if (e.is_regular_file()) link_or_copy(e.path(), target);
  }
}

void check_before_publishing(const Artifact& a, const std::string& who) {
  const auto problems = a.verify_files(true);
  if (problems.empty()) return;
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + (a.dir() / p).string();
  const std::string instance = a.manifest().value("instance", std::string());
  throw Error(who + ": will not publish " + a.id() + ": " + all +
              (instance.empty() ? std::string() : " (rebuild it: slimpipe run PIPELINE --force " + instance + ")"));
}

void copy_model_files(const fs::path& from, const fs::path& to) {
  for (const auto& e : fs::directory_iterator(from)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name == "runtime") {
      link_tree(e.path(), to / name);
      continue;
    }
    if (e.is_regular_file() && name != "manifest.json" && name != "metrics.json") link_or_copy(e.path(), to / name);
  }
}

std::string model_kind(const fs::path& dir) {
  const auto a = Artifact::try_load(dir);
  const std::string kind = a ? a->kind() : "";
  return kind.empty() ? "model" : kind;
}

std::optional<ModelRef> fp32_parent(const std::optional<ModelManifest>& mm) {
  if (!mm || !mm->input_model || mm->input_model->dir.empty()) return std::nullopt;
  const ModelRef& in = *mm->input_model;
  if (!fs::exists(in.dir / "config.json")) return std::nullopt;
  return ModelRef{in.id.empty() ? in.dir.string() : in.id, in.dir};
}

std::optional<ModelRef> furthest_fp32_ancestor(const Artifact& a) {
  std::optional<ModelRef> found;
  std::optional<ModelManifest> mm = ModelManifest::read(a);
  for (int depth = 0; depth < 16; ++depth) {
    const auto parent = fp32_parent(mm);
    if (!parent) break;
    found = parent;
    const auto next = Artifact::try_load(parent->dir);
    if (!next) break;  // an external model folder: the chain ends there
    mm = ModelManifest::read(*next);
    if (!mm || mm->kind != "model") break;
  }
  return found;
}

}  // namespace slimpipe::io
