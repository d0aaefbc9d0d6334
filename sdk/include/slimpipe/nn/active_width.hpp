// Width-adaptive forward of an unpruned model: every layer runs with only its first k heads and first
// n FFN neurons, slicing the shared weights in forward (DynaBERT's supernet, PaddleSlim's set_net_config).
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::nn {

// Layer i then uses heads[i] heads and intermediate[i] neurons (a prefix of its own). The result equals
// prune(model, heads, intermediate) run in the same mode, while gradients flow into the full parameters.
// Throws Error when a count is out of range or the vectors do not have one entry per layer.
SLIMPIPE_API void set_active_width(TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                                   const std::vector<std::int64_t>& intermediate);
// Back to every head and neuron.
SLIMPIPE_API void clear_active_width(TaskModelImpl& model);

// set_active_width for the lifetime of the object, then clear_active_width (also on exceptions).
class SLIMPIPE_API ActiveWidthScope {
 public:
  ActiveWidthScope(TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                   const std::vector<std::int64_t>& intermediate);
  ~ActiveWidthScope();
  ActiveWidthScope(const ActiveWidthScope&) = delete;
  ActiveWidthScope& operator=(const ActiveWidthScope&) = delete;

 private:
  TaskModelImpl& model_;
};

}  // namespace slimpipe::nn
