// Shared helpers of the libFuzzer targets (tests/fuzz, scripts/fuzz.sh).
//
// Readers that take a path get the input written to a file in a per-process folder under /dev/shm (removed at
// exit), so each target calls the real reader as users reach it. The expected failure of a reader is its one-line
// error (slimpipe::Error, slimpipe_runtime::Error): a target catches that and nothing else. Any other exception is
// reported with its type and message and aborts, so libFuzzer records the input as a crash, like a sanitizer
// report, a leak, a timeout or running out of memory.
#pragma once

#include <cxxabi.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace slimpipe_fuzz {

namespace fs = std::filesystem;

// This process's scratch folder, /dev/shm/slimpipe-fuzz-<pid> (the system temp folder without /dev/shm).
inline const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    std::error_code ec;
    fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("slimpipe-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(d, ec);
    fs::create_directories(d);
    std::atexit([] {
      std::error_code e;
      fs::remove_all(scratch_dir(), e);
    });
    return d;
  }();
  return dir;
}

// Writes `bytes` to scratch_dir()/name (created or truncated) and returns its path.
inline fs::path write_file(const std::string& name, std::string_view bytes) {
  fs::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", p.c_str());
    std::abort();
  }
  return p;
}

inline void remove_file(const std::string& name) {
  std::error_code ec;
  fs::remove(scratch_dir() / name, ec);
}

// `data` cut at every `sep` (at most max_parts parts; the last one keeps the rest).
inline std::vector<std::string_view> split(std::string_view data, std::string_view sep, std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t at = data.find(sep);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + sep.size());
  }
  parts.push_back(data);
  return parts;
}

// Separator of the parts of a multi-file input (seeds show it on a line of its own).
inline constexpr std::string_view kFileSeparator = "\n=====\n";

// The dynamic type of the exception in flight, demangled.
inline std::string current_exception_type() {
  std::type_info* t = abi::__cxa_current_exception_type();
  if (!t) return "?";
  int status = 0;
  char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : t->name();
  std::free(name);
  return out;
}

// Called from a catch (...) block after the expected error types were caught: reports and aborts.
[[noreturn]] inline void unexpected_exception(const char* target) {
  std::string what = "(not a std::exception)";
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  if (what.size() > 2000) what = what.substr(0, 2000) + "...";
  std::fprintf(stderr, "\n==%s== unexpected exception %s escaped: %s\n", target, current_exception_type().c_str(),
               what.c_str());
  std::abort();
}

}  // namespace slimpipe_fuzz
