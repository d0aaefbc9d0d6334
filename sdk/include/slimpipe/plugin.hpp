// The plugin descriptor and SLIMPIPE_PLUGIN(), the one entry point every plugin library exports.
//
// The host resolves the exported alias `slimpipe_plugin_query` with Boost.DLL, calls it with its
// own ABI version and reads the returned descriptor, a plain C struct, before touching any C++
// type from the plugin: ABI major must be equal, the plugin's minor <= the host's, and the build
// fingerprint identical. Only then does it call `create`.
#pragma once

#include <boost/dll/alias.hpp>
#include <cstdint>
#include <string>

#include "slimpipe/abi.hpp"
#include "slimpipe/params.hpp"

extern "C" {

enum slimpipe_plugin_flags : std::uint32_t {
  // Several instances of this plugin may run at the same time (in different objects).
  SLIMPIPE_PLUGIN_CONCURRENT = 1u << 0,
};

// Append-only: new fields go at the end and are gated on struct_size.
struct slimpipe_plugin_descriptor {
  std::uint32_t struct_size;
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* fingerprint;
  const char* kind;         // "strategy" or "task"
  const char* name;         // unique plugin name, e.g. "ptq"
  const char* version;      // semver of the plugin itself
  const char* description;  // one line
  const char* schema_json;  // slimpipe::Schema::to_json()
  std::uint32_t flags;      // slimpipe_plugin_flags
  void* (*create)();        // a new slimpipe::Strategy* or slimpipe::Task*, by kind
  void (*destroy)(void*);   // deletes what create() returned
};

typedef const slimpipe_plugin_descriptor* (*slimpipe_plugin_query_fn)(std::uint32_t host_abi_major,
                                                                      std::uint32_t host_abi_minor);
}

// These two may be overridden on the compiler command line, for tests of the loader's checks.
#ifndef SLIMPIPE_PLUGIN_ABI_MAJOR
#define SLIMPIPE_PLUGIN_ABI_MAJOR SLIMPIPE_ABI_MAJOR
#endif
#ifndef SLIMPIPE_PLUGIN_FINGERPRINT
#define SLIMPIPE_PLUGIN_FINGERPRINT SLIMPIPE_BUILD_FINGERPRINT
#endif

namespace slimpipe::detail {
template <typename T>
void* plugin_create() {
  return static_cast<void*>(static_cast<typename T::Interface*>(new T()));
}
template <typename T>
void plugin_destroy(void* p) {
  delete static_cast<typename T::Interface*>(p);
}
}  // namespace slimpipe::detail

// SLIMPIPE_PLUGIN(Class, "strategy"|"task", "name", "1.0.0", "one-line description", schema_fn)
//
// Class derives from slimpipe::Strategy or slimpipe::Task and declares
//   using Interface = slimpipe::Strategy;   (or slimpipe::Task)
// schema_fn is a function returning slimpipe::Schema. Nothing runs at load time: the descriptor
// is built on the first query.
#define SLIMPIPE_PLUGIN(CLASS, KIND, NAME, VERSION, DESCRIPTION, SCHEMA_FN)                    \
  namespace {                                                                                  \
  const slimpipe_plugin_descriptor* slimpipe_plugin_query_impl(std::uint32_t, std::uint32_t) { \
    static const std::string slimpipe_schema_json_ = (SCHEMA_FN)().to_json().dump();           \
    static const slimpipe_plugin_descriptor desc{sizeof(slimpipe_plugin_descriptor),           \
                                                 SLIMPIPE_PLUGIN_ABI_MAJOR,                    \
                                                 SLIMPIPE_ABI_MINOR,                           \
                                                 SLIMPIPE_PLUGIN_FINGERPRINT,                  \
                                                 KIND,                                         \
                                                 NAME,                                         \
                                                 VERSION,                                      \
                                                 DESCRIPTION,                                  \
                                                 slimpipe_schema_json_.c_str(),                \
                                                 SLIMPIPE_PLUGIN_CONCURRENT,                   \
                                                 &::slimpipe::detail::plugin_create<CLASS>,    \
                                                 &::slimpipe::detail::plugin_destroy<CLASS>};  \
    return &desc;                                                                              \
  }                                                                                            \
  }                                                                                            \
  BOOST_DLL_ALIAS(slimpipe_plugin_query_impl, slimpipe_plugin_query)
