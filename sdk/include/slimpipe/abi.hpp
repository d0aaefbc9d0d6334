// The plugin ABI contract: the build fingerprint that host and plugins must share exactly, and the version of
// the descriptor's layout, which lets the host read that fingerprint safely.
#pragma once

#include <boost/version.hpp>
#include <cstdint>

#include "slimpipe/version.hpp"

// The layout of the C records a plugin carries: the slimpipe_plugin_descriptor struct (slimpipe/plugin.hpp)
// and the .slimpipe_plugin section record. Bumped whenever either changes in any way; a host reads the rest of
// a record only when the plugin's layout version equals its own. Compatibility of the C++ interfaces is not
// versioned here: the fingerprint covers it.
#define SLIMPIPE_DESCRIPTOR_LAYOUT 2

#define SLIMPIPE_STR_(x) #x
#define SLIMPIPE_STR(x) SLIMPIPE_STR_(x)

#if defined(__clang__)
#define SLIMPIPE_COMPILER_ID "clang-" __clang_version__
#elif defined(__GNUC__)
#define SLIMPIPE_COMPILER_ID "gcc-" SLIMPIPE_STR(__GNUC__) "." SLIMPIPE_STR(__GNUC_MINOR__)
#else
#define SLIMPIPE_COMPILER_ID "unknown-compiler"
#endif

#ifndef _GLIBCXX_USE_CXX11_ABI
#define SLIMPIPE_CXX11_ABI_ "na"
#else
#define SLIMPIPE_CXX11_ABI_ SLIMPIPE_STR(_GLIBCXX_USE_CXX11_ABI)
#endif

// Everything that must agree for C++ objects (std::string, torch::Tensor, exceptions, the vtables of Strategy,
// Task and Context) to be exchanged safely: compiler major.minor, libstdc++ dual ABI, LibTorch, Boost and the
// slimpipe SDK version. Host and plugin compare it exactly; there is no "compatible" older or newer plugin.
#define SLIMPIPE_BUILD_FINGERPRINT                                                                                   \
  SLIMPIPE_COMPILER_ID ";cxx11abi=" SLIMPIPE_CXX11_ABI_ ";torch=" SLIMPIPE_TORCH_VERSION ";boost=" BOOST_LIB_VERSION \
                       ";slimpipe=" SLIMPIPE_VERSION_STRING

namespace slimpipe {

constexpr std::uint32_t kDescriptorLayout = SLIMPIPE_DESCRIPTOR_LAYOUT;

}  // namespace slimpipe
