// Reads and checks a plugin's .slimpipe_plugin record (plugin_record.hpp) without loading the library.
#include "plugin_record.hpp"

#include <vector>

#include "elf_section.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/plugin.hpp"

namespace slimpipe::core {

namespace {

// A record is five short strings; anything much larger is not one.
constexpr std::size_t kMaxRecordSize = 64u << 10;

// The NUL-terminated fields of `bytes`, which ends with a NUL.
std::vector<std::string> split_fields(const std::string& bytes) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\0') continue;
    fields.push_back(bytes.substr(start, i - start));
    start = i + 1;
  }
  return fields;
}

bool parse_layout(const std::string& text, std::uint32_t& out) {
  if (text.empty() || text.size() > 9) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return true;
}

PluginRecord parse_record(const std::string& where, const std::string& bytes) {
  const std::string malformed = where + ": malformed " SLIMPIPE_PLUGIN_SECTION " section (";
  if (bytes.empty() || bytes.back() != '\0') throw Error(malformed + "it does not end with a NUL byte)");
  const std::vector<std::string> fields = split_fields(bytes);
  if (fields[0] != SLIMPIPE_PLUGIN_MAGIC)
    throw Error(where + ": not a slimpipe plugin (its " SLIMPIPE_PLUGIN_SECTION
                        " section does not start with '" SLIMPIPE_PLUGIN_MAGIC "')");
  PluginRecord r;
  if (fields.size() < 2 || !parse_layout(fields[1], r.layout_version))
    throw Error(malformed + "no descriptor layout version after '" SLIMPIPE_PLUGIN_MAGIC "')");
  if (r.layout_version != kDescriptorLayout)
    throw Error(where + ": plugin descriptor layout " + std::to_string(r.layout_version) +
                " differs from the host's layout " + std::to_string(kDescriptorLayout) +
                "; rebuild the plugin against this slimpipe SDK");
  if (fields.size() != 5)
    throw Error(malformed + std::to_string(fields.size()) +
                " fields, expected 5: magic, layout version, fingerprint, kind, name)");
  r.fingerprint = fields[2];
  r.kind = fields[3];
  r.name = fields[4];
  if (r.fingerprint != host_fingerprint())
    throw Error(where + ": plugin build fingerprint '" + printable(r.fingerprint) + "' differs from the host's '" +
                host_fingerprint() + "'; rebuild the plugin with the same compiler, LibTorch, Boost and slimpipe SDK");
  if (r.kind != "strategy" && r.kind != "task" && r.kind != "composite")
    throw Error(where + ": plugin kind '" + printable(r.kind) + "' is not 'strategy', 'task' or 'composite'");
  if (r.name.empty()) throw Error(where + ": plugin has an empty name");
  return r;
}

}  // namespace

std::string printable(const std::string& text) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (text.size() > kMax) out += "…";
  return out;
}

PluginRecord read_plugin_record(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::optional<std::string> bytes;
  try {
    bytes = read_elf_section(file, SLIMPIPE_PLUGIN_SECTION, kMaxRecordSize);
  } catch (const ElfError& e) {
    throw Error(where + ": not a loadable shared library (" + e.what() + ")");
  }
  if (!bytes) throw Error(where + ": not a slimpipe plugin (no " SLIMPIPE_PLUGIN_SECTION " section)");
  return parse_record(where, *bytes);
}

}  // namespace slimpipe::core
