// The Task interface: what a task plugin (seq_cls, token_cls, qa, or a third party's) provides.
#pragma once

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe {

// A task is configured once per pipeline from its [task] table, then shared by every strategy
// instance through Context::task(). Instances may run concurrently, so a task's methods must be
// safe to call from several threads once configure() has returned.
class SLIMPIPE_API Task {
 public:
  virtual ~Task();
  virtual void configure(const Params& params) = 0;
};

}  // namespace slimpipe
