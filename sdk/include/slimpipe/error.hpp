// Exceptions that carry a user-facing, one-line message.
#pragma once

#include <stdexcept>
#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe {

// Any expected failure (bad input, bad parameter, corrupt file). The message is shown to the user
// as is, so it names the file, key or line and says what was expected.
class SLIMPIPE_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  ~Error() override;
};

// Thrown by Context::throw_if_cancelled() once the user pressed Ctrl-C.
class SLIMPIPE_API Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
  ~Cancelled() override;
};

}  // namespace slimpipe
