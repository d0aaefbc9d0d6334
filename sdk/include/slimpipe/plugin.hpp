// The plugin descriptor and SLIMPIPE_PLUGIN(), which every plugin library uses exactly once.
//
// A plugin states who it is twice:
// - in a constant record in its own ELF section, .slimpipe_plugin: the magic "slimpipe-plugin", the descriptor
//   layout version, the build fingerprint, the kind and the name, each NUL-terminated. The host reads it from
//   the file without loading the library, and refuses a plugin of another layout version or another build
//   fingerprint before any of its code (static initializers included) has run;
// - in the descriptor, a plain C struct returned by the exported alias `slimpipe_plugin_query`, read once the
//   library is loaded. It must agree with the section, and adds the version, description, parameter schema and
//   the factory.
//
// The fingerprint (slimpipe/abi.hpp) must equal the host's exactly: C++ objects cross the boundary, so the
// plugin must be built with the same compiler major.minor, libstdc++ dual ABI, LibTorch, Boost and slimpipe SDK.
//
// The kind follows from the class's `using Interface = ...;`:
// - "strategy" (slimpipe::Strategy): a pipeline step, input artifacts in, output artifacts out;
// - "task" (slimpipe::Task): the data, head, loss and metric a model is trained and scored on;
// - "composite" (slimpipe::Composite, slimpipe/composite.hpp): a strategy made of other strategies. It runs no
//   code of its own: the host creates one object when it loads the plugin, reads its steps() there, once, and
//   expands every node of this type into a chain of nodes, one per step, before planning.
#pragma once

#include <array>
#include <boost/dll/alias.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "slimpipe/abi.hpp"
#include "slimpipe/params.hpp"

extern "C" {

// Layout SLIMPIPE_DESCRIPTOR_LAYOUT. Any change to it bumps that number; there are no optional or appended
// fields: struct_size must equal sizeof(slimpipe_plugin_descriptor) of the host's layout.
struct slimpipe_plugin_descriptor {
  std::uint32_t struct_size;     // sizeof(slimpipe_plugin_descriptor)
  std::uint32_t layout_version;  // SLIMPIPE_DESCRIPTOR_LAYOUT
  const char* fingerprint;       // SLIMPIPE_BUILD_FINGERPRINT
  const char* kind;              // "strategy", "task" or "composite", from Class::Interface
  const char* name;              // unique plugin name, e.g. "ptq"
  const char* version;           // semver of the plugin itself
  const char* description;       // one line
  const char* schema_json;       // slimpipe::Schema::to_json()
  void* (*create)();             // a new Class, as a pointer to its Interface
  void (*destroy)(void*);        // deletes what create() returned
};

typedef const slimpipe_plugin_descriptor* (*slimpipe_plugin_query_fn)();
}

// The ELF section that holds a plugin's identity record, and the record's first field.
#define SLIMPIPE_PLUGIN_SECTION ".slimpipe_plugin"
#define SLIMPIPE_PLUGIN_MAGIC "slimpipe-plugin"

// These two may be overridden on the compiler command line, for tests of the loader's checks; they go into both
// the section record and the descriptor.
#ifndef SLIMPIPE_PLUGIN_DESCRIPTOR_LAYOUT
#define SLIMPIPE_PLUGIN_DESCRIPTOR_LAYOUT SLIMPIPE_DESCRIPTOR_LAYOUT
#endif
#ifndef SLIMPIPE_PLUGIN_FINGERPRINT
#define SLIMPIPE_PLUGIN_FINGERPRINT SLIMPIPE_BUILD_FINGERPRINT
#endif

namespace slimpipe {
class Strategy;
class Task;
class Composite;
}  // namespace slimpipe

namespace slimpipe::detail {

template <typename>
inline constexpr bool kNotAPluginInterface = false;

// The kind of a plugin whose class declares `using Interface = I;`.
template <typename I>
struct plugin_kind {
  static_assert(kNotAPluginInterface<I>,
                "SLIMPIPE_PLUGIN: Class::Interface must be slimpipe::Strategy, slimpipe::Task or slimpipe::Composite");
};
template <>
struct plugin_kind<Strategy> {
  static constexpr char name[] = "strategy";
};
template <>
struct plugin_kind<Task> {
  static constexpr char name[] = "task";
};
template <>
struct plugin_kind<Composite> {
  static constexpr char name[] = "composite";
};

template <typename T>
constexpr const auto& plugin_kind_of() {
  static_assert(std::is_base_of_v<typename T::Interface, T>, "SLIMPIPE_PLUGIN: Class must derive from its Interface");
  return plugin_kind<typename T::Interface>::name;
}

// The string literals `parts`, each with its terminating NUL, one after the other: the section record.
template <std::size_t... N>
constexpr std::array<char, (N + ...)> plugin_record(const char (&... parts)[N]) {
  std::array<char, (N + ...)> out{};
  std::size_t at = 0;
  auto put = [&out, &at](const char* s, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[at++] = s[i];
  };
  (put(parts, N), ...);
  return out;
}

template <typename T>
void* plugin_create() {
  return static_cast<void*>(static_cast<typename T::Interface*>(new T()));
}
template <typename T>
void plugin_destroy(void* p) {
  delete static_cast<typename T::Interface*>(p);
}

}  // namespace slimpipe::detail

// `retain` keeps the record when the library is linked with --gc-sections, where the compiler knows it.
#if defined(__has_attribute)
#if __has_attribute(retain)
#define SLIMPIPE_PLUGIN_RETAIN_ , retain
#endif
#endif
#ifndef SLIMPIPE_PLUGIN_RETAIN_
#define SLIMPIPE_PLUGIN_RETAIN_
#endif

// The .slimpipe_plugin section record for a plugin of kind KIND named NAME (string literals). SLIMPIPE_PLUGIN
// emits it; on its own it serves only to build libraries that test the loader.
#define SLIMPIPE_PLUGIN_SECTION_RECORD(KIND, NAME)                                                              \
  namespace {                                                                                                   \
  __attribute__((section(SLIMPIPE_PLUGIN_SECTION),                                                              \
                 used SLIMPIPE_PLUGIN_RETAIN_)) constexpr auto slimpipe_plugin_record_ =                        \
      ::slimpipe::detail::plugin_record(SLIMPIPE_PLUGIN_MAGIC, SLIMPIPE_STR(SLIMPIPE_PLUGIN_DESCRIPTOR_LAYOUT), \
                                        SLIMPIPE_PLUGIN_FINGERPRINT, KIND, NAME);                               \
  }

// SLIMPIPE_PLUGIN(Class, "name", "1.0.0", "one-line description", schema_fn)
//
// Class derives from slimpipe::Strategy, slimpipe::Task or slimpipe::Composite and declares
//   using Interface = slimpipe::Strategy;   (or slimpipe::Task, slimpipe::Composite)
// which sets the plugin's kind. The name and the version are string literals; schema_fn is a function
// returning slimpipe::Schema. Nothing runs at load time: the descriptor is built on the first query.
#define SLIMPIPE_PLUGIN(CLASS, NAME, VERSION, DESCRIPTION, SCHEMA_FN)                         \
  SLIMPIPE_PLUGIN_SECTION_RECORD(::slimpipe::detail::plugin_kind_of<CLASS>(), NAME)           \
  namespace {                                                                                 \
  const slimpipe_plugin_descriptor* slimpipe_plugin_query_impl() {                            \
    static const std::string slimpipe_schema_json_ = (SCHEMA_FN)().to_json().dump();          \
    static const slimpipe_plugin_descriptor desc{sizeof(slimpipe_plugin_descriptor),          \
                                                 SLIMPIPE_PLUGIN_DESCRIPTOR_LAYOUT,           \
                                                 SLIMPIPE_PLUGIN_FINGERPRINT,                 \
                                                 ::slimpipe::detail::plugin_kind_of<CLASS>(), \
                                                 NAME,                                        \
                                                 VERSION,                                     \
                                                 DESCRIPTION,                                 \
                                                 slimpipe_schema_json_.c_str(),               \
                                                 &::slimpipe::detail::plugin_create<CLASS>,   \
                                                 &::slimpipe::detail::plugin_destroy<CLASS>}; \
    return &desc;                                                                             \
  }                                                                                           \
  }                                                                                           \
  BOOST_DLL_ALIAS(slimpipe_plugin_query_impl, slimpipe_plugin_query)
