// Publishing the chosen model (publish.hpp).
#include "publish.hpp"

#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::ranking {

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

void check_before_publishing(const Artifact& a) {
  const auto problems = a.verify_files(true);
  if (problems.empty()) return;
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + (a.dir() / p).string();
  const std::string instance = a.manifest().value("instance", std::string());
  throw Error("rank: will not publish " + a.id() + ": " + all +
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

}  // namespace slimpipe::ranking
