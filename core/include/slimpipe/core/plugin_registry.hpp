// Finds plugin libraries, checks their descriptor layout and build fingerprint (first from the file, before the
// library is loaded, then from its descriptor) before using any C++ type from them, and creates strategies and
// tasks through handles that keep their library loaded.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/composite.hpp"
#include "slimpipe/params.hpp"
#include "slimpipe/plugin.hpp"

namespace slimpipe {
class Strategy;
class Task;
void configure_task(Task& task, const Params& params);
}  // namespace slimpipe

namespace slimpipe::core {

namespace fs = std::filesystem;

struct PluginInfo {
  fs::path file;
  std::string kind;  // "strategy", "task" or "composite"
  std::string name;
  std::string version;
  std::string description;
  std::string fingerprint;  // equal to host_fingerprint()
  Schema schema;
  std::vector<CompositeStep> steps;  // composite plugins: the strategies it expands into
  const slimpipe_plugin_descriptor* descriptor = nullptr;
  std::shared_ptr<void> library;  // co-owned by every object created from this plugin
};

struct PluginProblem {
  fs::path file;
  std::string message;  // one line, names the file
};

class PluginRegistry {
 public:
  // Search order: each --plugin-path, then SLIMPIPE_PLUGIN_PATH (colon list), then
  // <exe dir>/../lib/slimpipe/plugins.
  static std::vector<fs::path> search_path(const std::vector<std::string>& cli_paths);

  // Loads every lib*.so in the given folders (not recursive). A plugin whose name was already
  // found earlier in the search order is shadowed; refusals are kept in problems().
  void scan(const std::vector<fs::path>& dirs);

  // Checks one file's .slimpipe_plugin section, then loads it and checks its descriptor; throws Error, one line
  // naming the file and the mismatching values. A file refused by its section is never loaded; one refused after
  // loading stays loaded until exit (plugin_registry.cpp says why).
  static PluginInfo load(const fs::path& file);

  const PluginInfo* find(const std::string& name) const;
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  std::vector<std::string> names(const std::string& kind) const;

  // Objects hold a reference to their library, so it outlives them.
  static std::shared_ptr<Strategy> create_strategy(const PluginInfo& info);
  static std::shared_ptr<Task> create_task(const PluginInfo& info);

 private:
  std::vector<PluginInfo> plugins_;
  std::vector<PluginProblem> problems_;
};

// The host's own fingerprint, as plugins must match it.
const char* host_fingerprint();

}  // namespace slimpipe::core
