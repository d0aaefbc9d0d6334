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

// A wrong command line, pipeline file or parameter value, found before anything ran (a task's
// configure() checking its parameters, the CLI checking its options). The CLI exits with status 2
// for it, and 1 for every other Error (something failed while running).
class SLIMPIPE_API UsageError : public Error {
 public:
  using Error::Error;
  ~UsageError() override;
};

// Thrown by Context::throw_if_cancelled() once the user pressed Ctrl-C.
class SLIMPIPE_API Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
  ~Cancelled() override;
};

}  // namespace slimpipe
