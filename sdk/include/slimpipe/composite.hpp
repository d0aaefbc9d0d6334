// The Composite interface: a strategy made of other strategies (PaddleNLP's "dynabert+ptq"). It runs no code
// of its own: the host creates one object when it loads the plugin, reads steps() there, once, and expands a
// node of this type into a chain of nodes, one per step, before planning, so every step is cached, resumed, fanned
// out and reported like a node written by hand. A plugin class declares `using Interface = slimpipe::Composite;`,
// which makes SLIMPIPE_PLUGIN (slimpipe/plugin.hpp) give it the kind "composite".
#pragma once

#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe {

struct SLIMPIPE_API CompositeStep {
  std::string plugin;  // a strategy plugin, e.g. "dynabert"
  // The step's node id is "<node id>_<suffix>"; the last step keeps the node's own id, so nodes downstream
  // of the composite read its final outputs.
  std::string suffix;
  // Parameters that go to this step only, although a later step declares them too (dynabert+ptq:
  // learning_rate is DynaBERT's, not AdaRound's). Every other parameter goes to each step that declares it.
  std::vector<std::string> claims;
};

class SLIMPIPE_API Composite {
 public:
  virtual ~Composite();
  // Two or more steps, each feeding the next; the first takes the node's inputs.
  virtual std::vector<CompositeStep> steps() const = 0;
};

}  // namespace slimpipe
