// Plugin discovery and loading with Boost.DLL. The descriptor is a C struct; it is checked before
// any C++ object from the plugin is created. Libraries are never unloaded before exit: LibTorch's
// static registrars crash when a library that links it is unloaded.
#include "slimpipe/core/plugin_registry.hpp"

#include <dlfcn.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

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

constexpr std::size_t kMinDescriptorSize = sizeof(slimpipe_plugin_descriptor);

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
  std::lock_guard<std::mutex> lock(dl_mutex());
  auto lib = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code ec;
  lib->load(boost::dll::fs::path(file.string()), boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local,
            ec);
  if (ec) throw Error(where + ": not a loadable shared library (" + dlopen_reason(where) + ")");
  if (!lib->has("slimpipe_plugin_query"))
    throw Error(where + ": not a slimpipe plugin (no 'slimpipe_plugin_query' entry point)");
  resident_libraries().push_back(lib);

  auto query = lib->get_alias<const slimpipe_plugin_descriptor*(std::uint32_t, std::uint32_t)>("slimpipe_plugin_query");
  const slimpipe_plugin_descriptor* d = nullptr;
  try {
    d = query(kHostAbi.major, kHostAbi.minor);
  } catch (const std::exception& e) {
    throw Error(where + ": the plugin's slimpipe_plugin_query threw an exception: " + e.what());
  } catch (...) {
    throw Error(where + ": the plugin's slimpipe_plugin_query threw an exception");
  }
  if (!d) throw Error(where + ": plugin refused this host (its query returned no descriptor)");
  if (d->struct_size < kMinDescriptorSize)
    throw Error(where + ": plugin descriptor is " + std::to_string(d->struct_size) + " bytes, expected at least " +
                std::to_string(kMinDescriptorSize) + "; rebuild the plugin against this slimpipe SDK");
  if (d->abi_major != kHostAbi.major)
    throw Error(where + ": plugin ABI major " + std::to_string(d->abi_major) + " does not match the host's ABI major " +
                std::to_string(kHostAbi.major) + "; rebuild the plugin against this slimpipe SDK");
  if (d->abi_minor > kHostAbi.minor)
    throw Error(where + ": plugin ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                " is newer than the host's ABI " + std::to_string(kHostAbi.major) + "." +
                std::to_string(kHostAbi.minor) + "; upgrade slimpipe");
  const std::string fp = str_or_empty(d->fingerprint);
  if (fp != host_fingerprint())
    throw Error(where + ": plugin build fingerprint '" + fp + "' differs from the host's '" + host_fingerprint() +
                "'; rebuild the plugin with the same compiler, LibTorch and slimpipe SDK");

  PluginInfo info;
  info.file = file;
  info.kind = str_or_empty(d->kind);
  info.name = str_or_empty(d->name);
  info.version = str_or_empty(d->version);
  info.description = str_or_empty(d->description);
  info.fingerprint = fp;
  info.abi_major = d->abi_major;
  info.abi_minor = d->abi_minor;
  info.flags = d->flags;
  info.descriptor = d;
  info.library = lib;
  if (info.kind != "strategy" && info.kind != "task" && info.kind != "composite")
    throw Error(where + ": plugin kind '" + info.kind + "' is not 'strategy', 'task' or 'composite'");
  if (info.name.empty()) throw Error(where + ": plugin has an empty name");
  if (!d->create || !d->destroy) throw Error(where + ": plugin descriptor lacks create/destroy");
  try {
    info.schema = Schema::from_json(Json::parse(str_or_empty(d->schema_json)));
  } catch (const std::exception& e) {
    throw Error(where + ": plugin '" + info.name + "' has a malformed parameter schema: " + e.what());
  }
  if (info.kind == "composite") {
    // Its steps are data: read them once, here, so validation never creates plugin objects.
    try {
      std::unique_ptr<Composite, void (*)(void*)> composite(static_cast<Composite*>(d->create()), d->destroy);
      if (!composite) throw Error("it returned no object");
      info.steps = composite->steps();
    } catch (const std::exception& e) {
      throw Error(where + ": composite plugin '" + info.name + "' failed to create: " + e.what());
    }
    if (info.steps.size() < 2) throw Error(where + ": composite plugin '" + info.name + "' has fewer than two steps");
  }
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
