// The Strategy interface: a compression step that turns input artifacts into output artifacts.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/artifact.hpp"
#include "slimpipe/context.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe {

class SLIMPIPE_API Strategy {
 public:
  virtual ~Strategy();

  // The names of the artifacts run() will write for these parameters. The host calls this while
  // planning, so it must not do real work. A name becomes the artifact's directory name and a
  // coordinate of everything downstream (DynaBERT: "width_0.75", "width_0.5"). Default: one
  // unnamed artifact.
  virtual std::vector<std::string> outputs(const Params& params) const;

  // Does the work. `inputs` holds one artifact per entry of the node's `inputs` list, or, for a
  // node with collect = true, every upstream artifact. Writes each output through ctx.output().
  // Throws slimpipe::Error (or any std::exception) on failure; the host records it and goes on
  // with the rest of the pipeline.
  virtual void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& params) = 0;
};

}  // namespace slimpipe
