// The identity record a plugin carries in its .slimpipe_plugin ELF section (slimpipe/plugin.hpp), read from the
// file before the library is loaded, so that a plugin built for another host is refused before any of its code
// (static initializers included) runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace slimpipe::core {

struct PluginRecord {
  std::uint32_t layout_version = 0;
  std::string fingerprint;
  std::string kind;
  std::string name;
};

// Reads the record of `file` and checks it against this host: a well-formed ELF64 shared library with a
// .slimpipe_plugin section, of the host's descriptor layout version and exactly the host's build fingerprint, a
// known kind and a name. Loads nothing. Throws Error, one line naming the file.
PluginRecord read_plugin_record(const std::filesystem::path& file);

// `text` (read from a plugin file) fit for a one-line message: control bytes as '?', at most 200 characters.
std::string printable(const std::string& text);

}  // namespace slimpipe::core
