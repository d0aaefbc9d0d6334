// The plugin ABI contract: version numbers and the build fingerprint that host and plugins compare
// before any C++ type crosses the library boundary.
#pragma once

#include <boost/version.hpp>
#include <cstdint>
#include <string>

#include "slimpipe/version.hpp"

// Major: bumped on any breaking change to the descriptor or to the C++ interfaces (Strategy,
// Task, Context, Artifact, Params). Minor: bumped for additive changes; a host accepts a plugin
// whose minor is <= its own.
#define SLIMPIPE_ABI_MAJOR 1
#define SLIMPIPE_ABI_MINOR 0

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

// Everything that must agree for C++ objects (std::string, torch::Tensor, exceptions) to be
// exchanged safely: compiler major.minor, libstdc++ dual ABI, LibTorch, Boost and slimpipe versions.
#define SLIMPIPE_BUILD_FINGERPRINT                                                                                   \
  SLIMPIPE_COMPILER_ID ";cxx11abi=" SLIMPIPE_CXX11_ABI_ ";torch=" SLIMPIPE_TORCH_VERSION ";boost=" BOOST_LIB_VERSION \
                       ";slimpipe=" SLIMPIPE_VERSION_STRING

namespace slimpipe {

struct AbiVersion {
  std::uint32_t major;
  std::uint32_t minor;
};

constexpr AbiVersion kHostAbi{SLIMPIPE_ABI_MAJOR, SLIMPIPE_ABI_MINOR};

}  // namespace slimpipe
