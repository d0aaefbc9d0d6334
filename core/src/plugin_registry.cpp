// Plugin discovery and loading with Boost.DLL, in two stages:
// 1. before the library is loaded, its .slimpipe_plugin ELF section is read from the file (plugin_record.hpp):
//    a file that is no plugin, or a plugin of another descriptor layout or build fingerprint, is refused without
//    running any of its code;
// 2. the library is loaded, and its descriptor, a C struct, is checked against the section and the host before
//    any C++ object from the plugin is created.
// Libraries are never unloaded before exit: loading one runs its static initializers, LibTorch's registrars
// among them, and those crash when a library that links LibTorch is unloaded. So a library that passed stage 1
// and was loaded stays resident even when a check of stage 2 refuses it.
#include "slimpipe/core/plugin_registry.hpp"

#include <dlfcn.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "plugin_record.hpp"
#include "slimpipe/composite.hpp"
#include "slimpipe/strategy.hpp"

namespace slimpipe::core {

namespace {

// dlopen is not thread-safe on every platform (Boost.DLL limitations); serialise it.
std::mutex& dl_mutex() {
  static std::mutex m;
  return m;
}

// Keeps every loaded library alive until exit; deliberately leaked so that no destructor runs at
// static-destruction time either.
std::vector<std::shared_ptr<boost::dll::shared_library>>& resident_libraries() {
  static auto* libs = new std::vector<std::shared_ptr<boost::dll::shared_library>>();
  return *libs;
}

std::string str_or_empty(const char* s) { return s ? std::string(s) : std::string(); }

// dlopen's own reason for refusing `file` ("invalid ELF header", "file too short", a missing
// dependency), without the file name it starts with. Boost.DLL only reports "Bad file descriptor".
std::string dlopen_reason(const std::string& file) {
  ::dlerror();
  if (void* h = ::dlopen(file.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
    ::dlclose(h);
    return "no reason given";
  }
  const char* e = ::dlerror();
  std::string why = e ? e : "no reason given";
  if (why.rfind(file + ": ", 0) == 0) why.erase(0, file.size() + 2);
  return why;
}

// Loads `file`, whose section record passed, and keeps it resident until exit: its static initializers have run.
std::shared_ptr<boost::dll::shared_library> load_resident(const fs::path& file) {
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  lib->load(boost::dll::fs::path(file.string()), boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local,
            ec);
  if (ec) throw Error(file.string() + ": not a loadable shared library (" + dlopen_reason(file.string()) + ")");
  resident_libraries().push_back(lib);
  return lib;
}

const slimpipe_plugin_descriptor* query_descriptor(const boost::dll::shared_library& lib, const std::string& where) {
  if (!lib.has("slimpipe_plugin_query"))
    throw Error(where + ": has a " SLIMPIPE_PLUGIN_SECTION " section but no 'slimpipe_plugin_query' entry point");
  auto query = lib.get_alias<const slimpipe_plugin_descriptor*()>("slimpipe_plugin_query");
  const slimpipe_plugin_descriptor* d = nullptr;
  try {
    d = query();
  } catch (const std::exception& e) {
    throw Error(where + ": the plugin's slimpipe_plugin_query threw an exception: " + e.what());
  } catch (...) {
    throw Error(where + ": the plugin's slimpipe_plugin_query threw an exception");
  }
  if (!d) throw Error(where + ": the plugin's slimpipe_plugin_query returned no descriptor");
  return d;
}

// The descriptor must agree with the section record read before loading, which matched the host. Its layout is
// the host's (the section said so), so reading its fields is safe.
void check_descriptor(const slimpipe_plugin_descriptor& d, const PluginRecord& record, const std::string& where) {
  const std::string section = "its " SLIMPIPE_PLUGIN_SECTION " section's";
  if (d.layout_version != record.layout_version)
    throw Error(where + ": the descriptor's layout version " + std::to_string(d.layout_version) + " differs from " +
                section + " " + std::to_string(record.layout_version));
  if (d.struct_size != sizeof(slimpipe_plugin_descriptor))
    throw Error(where + ": plugin descriptor is " + std::to_string(d.struct_size) + " bytes, expected " +
                std::to_string(sizeof(slimpipe_plugin_descriptor)) + " for layout " +
                std::to_string(kDescriptorLayout) + "; rebuild the plugin against this slimpipe SDK");
  auto agree = [&](const char* field, const char* value, const std::string& expected) {
    const std::string v = str_or_empty(value);
    if (v != expected)
      throw Error(where + ": the descriptor's " + field + " '" + printable(v) + "' differs from " + section + " '" +
                  printable(expected) + "'");
  };
  agree("fingerprint", d.fingerprint, record.fingerprint);
  agree("kind", d.kind, record.kind);
  agree("name", d.name, record.name);
  if (!d.create || !d.destroy) throw Error(where + ": plugin descriptor lacks create/destroy");
}

// A composite's steps are data: read once, here, so validation never creates plugin objects.
std::vector<CompositeStep> composite_steps(const slimpipe_plugin_descriptor& d, const std::string& where,
                                           const std::string& name) {
  std::vector<CompositeStep> steps;
  try {
    std::unique_ptr<Composite, void (*)(void*)> composite(static_cast<Composite*>(d.create()), d.destroy);
    if (!composite) throw Error("it returned no object");
    steps = composite->steps();
  } catch (const std::exception& e) {
    throw Error(where + ": composite plugin '" + name + "' failed to create: " + e.what());
  }
  if (steps.size() < 2) throw Error(where + ": composite plugin '" + name + "' has fewer than two steps");
  return steps;
}

}  // namespace

const char* host_fingerprint() { return SLIMPIPE_BUILD_FINGERPRINT; }

std::vector<fs::path> PluginRegistry::search_path(const std::vector<std::string>& cli_paths) {
  std::vector<fs::path> dirs;
  for (const auto& p : cli_paths) dirs.emplace_back(p);
  if (const char* env = std::getenv("SLIMPIPE_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) dirs.emplace_back(item);
  }
  boost::dll::fs::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec) dirs.push_back(fs::path(exe.parent_path().string()) / ".." / "lib" / "slimpipe" / "plugins");
  return dirs;
}

PluginInfo PluginRegistry::load(const fs::path& file) {
  const std::string where = file.string();
  const PluginRecord record = read_plugin_record(file);  // throws before any of the plugin's code runs
  std::lock_guard<std::mutex> lock(dl_mutex());
  auto lib = load_resident(file);
  const slimpipe_plugin_descriptor* d = query_descriptor(*lib, where);
  check_descriptor(*d, record, where);

  PluginInfo info;
  info.file = file;
  info.kind = record.kind;
  info.name = record.name;
  info.version = str_or_empty(d->version);
  info.description = str_or_empty(d->description);
  info.fingerprint = record.fingerprint;
  info.descriptor = d;
  info.library = lib;
  try {
    info.schema = Schema::from_json(Json::parse(str_or_empty(d->schema_json)));
  } catch (const std::exception& e) {
    throw Error(where + ": plugin '" + info.name + "' has a malformed parameter schema: " + e.what());
  }
  if (info.kind == "composite") info.steps = composite_steps(*d, where, info.name);
  return info;
}

void PluginRegistry::scan(const std::vector<fs::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    // Never throws: a folder that cannot be read, or an entry that cannot be examined, is a problem
    // reported with its name, not the end of every command.
    std::vector<fs::path> entries;
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
    if (ec) problems_.push_back({dir, dir.string() + ": cannot read the plugin folder (" + ec.message() + ")"});
    std::sort(entries.begin(), entries.end());
    std::vector<fs::path> files;
    for (const fs::path& path : entries) {
      const std::string name = path.filename().string();
      std::error_code sec;
      if (fs::is_symlink(fs::symlink_status(path, sec))) {
        std::error_code tec;
        const fs::file_status target = fs::status(path, tec);  // follows the link
        if (tec.value() == ELOOP) {
          problems_.push_back({path, path.string() + ": symbolic link loop in the plugin folder; skipped"});
          continue;
        }
        if (tec && tec.value() != ENOENT && tec.value() != ENOTDIR) {
          problems_.push_back(
              {path, path.string() + ": cannot follow the symbolic link (" + tec.message() + "); skipped"});
          continue;
        }
        if (!fs::exists(target)) {
          std::error_code rec;
          const fs::path to = fs::read_symlink(path, rec);
          problems_.push_back({path, path.string() + ": dangling symbolic link" +
                                         (rec ? std::string() : " to " + to.string()) +
                                         " in the plugin folder; skipped"});
          continue;
        }
      }
      std::error_code rec;
      if (fs::is_regular_file(path, rec) && name.rfind("lib", 0) == 0 && path.extension() == ".so")
        files.push_back(path);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::error_code cec;
      fs::path canon = fs::weakly_canonical(f, cec);
      if (cec) canon = f;
      bool seen = false;
      for (const auto& p : plugins_) seen = seen || p.file == canon;
      if (seen) continue;
      try {
        PluginInfo info = load(canon);
        if (const PluginInfo* prev = find(info.name)) {
          problems_.push_back({canon, canon.string() + ": plugin '" + info.name + "' is shadowed by " +
                                          prev->file.string() + ", found earlier in the search path"});
          continue;
        }
        plugins_.push_back(std::move(info));
      } catch (const Error& e) {
        problems_.push_back({canon, e.what()});
      } catch (const std::exception& e) {  // from the plugin's own code
        problems_.push_back({canon, canon.string() + ": " + e.what()});
      } catch (...) {
        problems_.push_back({canon, canon.string() + ": the plugin threw an exception while loading"});
      }
    }
  }
}

const PluginInfo* PluginRegistry::find(const std::string& name) const {
  for (const auto& p : plugins_)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> PluginRegistry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const auto& p : plugins_)
    if (kind.empty() || p.kind == kind) out.push_back(p.name);
  return out;
}

std::shared_ptr<Strategy> PluginRegistry::create_strategy(const PluginInfo& info) {
  if (info.kind != "strategy") throw Error("plugin '" + info.name + "' is a " + info.kind + ", not a strategy");
  auto* obj = static_cast<Strategy*>(info.descriptor->create());
  if (!obj) throw Error("plugin '" + info.name + "' failed to create a strategy");
  auto destroy = info.descriptor->destroy;
  auto lib = info.library;
  return std::shared_ptr<Strategy>(obj, [destroy, lib](Strategy* s) { destroy(s); });
}

std::shared_ptr<Task> PluginRegistry::create_task(const PluginInfo& info) {
  if (info.kind != "task") throw Error("plugin '" + info.name + "' is a " + info.kind + ", not a task");
  auto* obj = static_cast<Task*>(info.descriptor->create());
  if (!obj) throw Error("plugin '" + info.name + "' failed to create a task");
  auto destroy = info.descriptor->destroy;
  auto lib = info.library;
  return std::shared_ptr<Task>(obj, [destroy, lib](Task* t) { destroy(t); });
}

}  // namespace slimpipe::core
