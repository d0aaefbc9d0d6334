// The checks made from the file before a plugin is loaded (its .slimpipe_plugin ELF section): a plugin of another
// build fingerprint or descriptor layout is refused without running any of its code, a truncated or damaged file
// is a one-line error naming it, and kinds follow from the plugin class's Interface.
#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>

#include "slimpipe/core/plugin_registry.hpp"
#include "test_util.hpp"

using namespace slimpipe::core;
namespace fs = std::filesystem;

namespace {

// Built by tests/plugins/CMakeLists.txt: plugins that load, away from the folders other tests scan.
const fs::path kControlDir = fs::path(SLIMPIPE_BINARY_DIR) / "tests" / "plugins_control";
const fs::path kGoodPlugin = fs::path(SLIMPIPE_TEST_PLUGIN_DIR) / "libslimpipe_test_echo_task.so";

// Whether `file` is loaded in this process (RTLD_NOLOAD loads nothing).
bool is_loaded(const fs::path& file) {
  void* h = ::dlopen(file.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (h) ::dlclose(h);
  return h != nullptr;
}

// The message of the Error that loading `file` throws; a failure when it loads or throws anything else.
std::string refusal(const fs::path& file) {
  try {
    PluginRegistry::load(file);
  } catch (const slimpipe::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "loaded " << file;
  return "";
}

// A one-line message that starts with the file's name.
void expect_one_line_naming(const std::string& m, const fs::path& file) {
  EXPECT_EQ(m.rfind(file.string() + ": ", 0), 0u) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

std::string bytes_of(const fs::path& file) { return testutil::read_file(file); }

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

template <typename T>
T get(const std::string& bytes, std::size_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

template <typename T>
void put(std::string& bytes, std::size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
}

// Where, in a well-formed ELF64 file, the section header of the section called `name` starts.
std::size_t section_header_at(const std::string& elf, const std::string& name) {
  const auto eh = get<Elf64_Ehdr>(elf, 0);
  const auto names = get<Elf64_Shdr>(elf, eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr));
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    const std::size_t at = eh.e_shoff + i * sizeof(Elf64_Shdr);
    if (elf.c_str() + names.sh_offset + get<Elf64_Shdr>(elf, at).sh_name == name) return at;
  }
  ADD_FAILURE() << "no section " << name;
  return 0;
}

class PluginElf : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testutil::temp_dir("plugin-elf"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST_F(PluginElf, AnotherFingerprintOrLayoutIsRefusedBeforeAnyOfItsCodeRuns) {
  const fs::path marker = dir_ / "loaded.txt";
  ::setenv("SLIMPIPE_TEST_LOAD_MARKER", marker.c_str(), 1);
  for (const char* name : {"libslimpipe_test_bad_fingerprint.so", "libslimpipe_test_bad_layout.so"}) {
    const fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / name;
    ASSERT_TRUE(fs::exists(f)) << f;
    expect_one_line_naming(refusal(f), f);
    EXPECT_FALSE(fs::exists(marker)) << f << "'s static initializer ran";
    EXPECT_FALSE(is_loaded(f)) << f << " was loaded";
  }
  // The same initializer in a plugin that passes: it runs, so its absence above means something.
  const fs::path good = kControlDir / "libslimpipe_test_load_marker.so";
  const PluginInfo info = PluginRegistry::load(good);
  ::unsetenv("SLIMPIPE_TEST_LOAD_MARKER");
  EXPECT_EQ(info.name, "load_marker");
  EXPECT_EQ(testutil::read_file(marker), "loaded\n");
  EXPECT_TRUE(is_loaded(good));
}

TEST_F(PluginElf, ALibraryWithoutTheSectionIsNeverLoaded) {
  const fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_not_a_plugin.so";
  EXPECT_EQ(refusal(f), f.string() + ": not a slimpipe plugin (no .slimpipe_plugin section)");
  EXPECT_FALSE(is_loaded(f));
}

TEST_F(PluginElf, ADescriptorThatDisagreesWithItsSectionIsRefused) {
  const fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_disagreeing_record.so";
  EXPECT_EQ(refusal(f), f.string() +
                            ": the descriptor's name 'descriptor_name' differs from its .slimpipe_plugin "
                            "section's 'record_name'");
}

TEST_F(PluginElf, KindsFollowFromTheInterface) {
  EXPECT_EQ(PluginRegistry::load(kGoodPlugin).kind, "task");
  EXPECT_EQ(PluginRegistry::load(fs::path(SLIMPIPE_TEST_PLUGIN_DIR) / "libslimpipe_test_sleep_record.so").kind,
            "strategy");
  const PluginInfo composite = PluginRegistry::load(kControlDir / "libslimpipe_test_two_sleeps.so");
  EXPECT_EQ(composite.kind, "composite");
  EXPECT_EQ(composite.name, "two_sleeps");
  ASSERT_EQ(composite.steps.size(), 2u);
  EXPECT_EQ(composite.steps[0].plugin, "sleep_record");
  EXPECT_EQ(composite.steps[0].suffix, "first");
  EXPECT_EQ(composite.steps[0].claims, std::vector<std::string>{"sleep_ms"});
  EXPECT_EQ(composite.steps[1].suffix, "second");
}

TEST_F(PluginElf, ATruncatedLibraryIsAOneLineErrorNamingTheFile) {
  const std::string whole = bytes_of(kGoodPlugin);
  ASSERT_GT(whole.size(), 4096u);
  const std::vector<std::pair<std::size_t, std::string>> cases = {
      {0, "empty file"},
      {3, "not an ELF file"},
      {40, "file too short: 40 bytes, less than an ELF64 header (64)"},
      {64, "truncated: section header table"},
      {whole.size() / 2, "truncated: section header table"},
      {whole.size() - 1, "truncated: section header table"},
  };
  for (const auto& [size, reason] : cases) {
    const fs::path f = dir_ / ("libcut" + std::to_string(size) + ".so");
    write_bytes(f, whole.substr(0, size));
    const std::string m = refusal(f);
    expect_one_line_naming(m, f);
    EXPECT_EQ(m.rfind(f.string() + ": not a loadable shared library (" + reason, 0), 0u) << m;
    EXPECT_EQ(m.back(), ')') << m;
    EXPECT_FALSE(is_loaded(f));
  }
}

TEST_F(PluginElf, DamagedHeadersAndSectionsAreOneLineErrorsNamingTheFile) {
  const std::string whole = bytes_of(kGoodPlugin);
  const auto eh = get<Elf64_Ehdr>(whole, 0);
  const std::size_t names_at = eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr);
  const std::size_t record_at = section_header_at(whole, ".slimpipe_plugin");
  const auto record = get<Elf64_Shdr>(whole, record_at);
  using Edit = std::function<void(std::string&)>;
  const std::vector<std::pair<Edit, std::string>> cases = {
      {[](std::string& b) { b[EI_CLASS] = ELFCLASS32; }, "not a loadable shared library (not a 64-bit ELF file)"},
      {[](std::string& b) { put<Elf64_Half>(b, offsetof(Elf64_Ehdr, e_type), ET_EXEC); },
       "not a loadable shared library (not a shared library (ELF type 2))"},
      {[](std::string& b) { put<Elf64_Off>(b, offsetof(Elf64_Ehdr, e_shoff), ~Elf64_Off{0} - 8); },
       "not a loadable shared library (truncated: section header table"},
      {[](std::string& b) { put<Elf64_Half>(b, offsetof(Elf64_Ehdr, e_shentsize), 3); },
       "not a loadable shared library (section header entries of 3 bytes, expected 64)"},
      {[](std::string& b) { put<Elf64_Half>(b, offsetof(Elf64_Ehdr, e_shstrndx), 60000); },
       "not a loadable shared library (section name table index 60000 is out of range"},
      {[&](std::string& b) { put<Elf64_Off>(b, names_at + offsetof(Elf64_Shdr, sh_offset), b.size()); },
       "not a loadable shared library (truncated: section name table"},
      {[&](std::string& b) { put<Elf64_Word>(b, record_at + offsetof(Elf64_Shdr, sh_name), 0x7fffffff); },
       "lies outside the section name table"},
      {[&](std::string& b) { put<Elf64_Xword>(b, record_at + offsetof(Elf64_Shdr, sh_size), ~Elf64_Xword{0}); },
       "not a loadable shared library (section .slimpipe_plugin is 18446744073709551615 bytes, more than 65536)"},
      {[&](std::string& b) { put<Elf64_Off>(b, record_at + offsetof(Elf64_Shdr, sh_offset), b.size() - 4); },
       "not a loadable shared library (truncated: section .slimpipe_plugin"},
      {[&](std::string& b) { b[record.sh_offset] = 'S'; },
       "not a slimpipe plugin (its .slimpipe_plugin section does not start with 'slimpipe-plugin')"},
      {[&](std::string& b) { b[record.sh_offset + record.sh_size - 1] = 'x'; },
       "malformed .slimpipe_plugin section (it does not end with a NUL byte)"},
      {[&](std::string& b) { b[record.sh_offset + std::strlen("slimpipe-plugin") + 1] = 'x'; },
       "malformed .slimpipe_plugin section (no descriptor layout version after 'slimpipe-plugin')"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::string bytes = whole;
    cases[i].first(bytes);
    const fs::path f = dir_ / ("libdamaged" + std::to_string(i) + ".so");
    write_bytes(f, bytes);
    const std::string m = refusal(f);
    expect_one_line_naming(m, f);
    EXPECT_NE(m.find(cases[i].second), std::string::npos) << m;
    EXPECT_FALSE(is_loaded(f));
  }
}

// Random damage to the section header table, which the loader reads and the dynamic linker does not: whatever the
// bytes, the outcome is a one-line error naming the file or, when the damage missed everything read, the plugin.
TEST_F(PluginElf, RandomDamageToTheSectionTableNeverCrashes) {
  const std::string whole = bytes_of(kGoodPlugin);
  const auto eh = get<Elf64_Ehdr>(whole, 0);
  const std::size_t table_size = eh.e_shnum * sizeof(Elf64_Shdr);
  std::mt19937 rng(11);
  int refused = 0;
  for (int round = 0; round < 40; ++round) {
    std::string bytes = whole;
    for (int k = 0; k < 4; ++k) bytes[eh.e_shoff + rng() % table_size] = static_cast<char>(rng());
    const fs::path f = dir_ / ("librandom" + std::to_string(round) + ".so");
    write_bytes(f, bytes);
    try {
      EXPECT_EQ(PluginRegistry::load(f).name, "echo_task");
    } catch (const slimpipe::Error& e) {
      expect_one_line_naming(e.what(), f);
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}
