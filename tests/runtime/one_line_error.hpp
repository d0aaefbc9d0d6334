// The runtime's errors are one line naming what is at fault: helpers to catch and check them.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::testing {

// The message of the slimpipe_runtime::Error that `f` throws, or "(no error)".
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline void expect_one_line(const std::string& message, const std::string& fragment) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << message;
}

}  // namespace slimpipe_runtime::testing
