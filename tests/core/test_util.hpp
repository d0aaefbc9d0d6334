// Helpers for the host tests: temporary folders, files, running the CLI, reading records.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/core/plugin_registry.hpp"

namespace testutil {

namespace fs = std::filesystem;

inline fs::path temp_dir(const std::string& tag) {
  static std::mt19937_64 rng(std::random_device{}());
  fs::path p = fs::temp_directory_path() /
               ("slimpipe-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 100000));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

inline void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& cmd) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

inline std::string cli() { return std::string(SLIMPIPE_CLI) + " --plugin-path " + SLIMPIPE_TEST_PLUGIN_DIR; }

inline const slimpipe::core::PluginRegistry& test_registry() {
  static slimpipe::core::PluginRegistry reg = [] {
    slimpipe::core::PluginRegistry r;
    r.scan({SLIMPIPE_TEST_PLUGIN_DIR});
    return r;
  }();
  return reg;
}

struct Span {
  long long start = -1, end = -1;
};

// Parses the "start|end <id> <us>" lines the sleep_record plugin appends.
inline std::map<std::string, std::vector<Span>> read_records(const fs::path& p) {
  std::map<std::string, std::vector<Span>> out;
  std::ifstream in(p);
  std::string what, id;
  long long t;
  while (in >> what >> id >> t) {
    auto& v = out[id];
    if (what == "start")
      v.push_back(Span{t, -1});
    else if (!v.empty())
      v.back().end = t;
  }
  return out;
}

}  // namespace testutil
