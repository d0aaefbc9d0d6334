// The artifact writer: an instance's outputs are written under the run's temp folder and published (manifests
// last, durably, then one rename) so that a reader never sees half an artifact; stored outputs are read back
// for instances that need not run; the pipeline's [model] folder is an artifact too.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/executor.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"
#include "slimpipe/strategy.hpp"

namespace slimpipe::core {

// An instance id as a file name ('/', ' ' and '\\' become '_').
std::string safe_name(const std::string& id);

// The pipeline's [model] folder as an artifact (its manifest when it has one, its files' identity as hash).
InstanceOutcome use_input_model(const Instance& inst, const fs::path& output_dir, std::vector<Artifact>& out);

// The stored outputs of an instance that need not run. False, with why in *reason, when one cannot be read
// after all (changed since stale_reason looked at it).
bool load_stored(const Instance& inst, std::vector<Artifact>& out, std::string* reason);

// The temp folder an instance writes into: a single unnamed output is the folder itself, named outputs are
// subfolders of it (every filesystem operation counts on slow disks).
std::map<std::string, OutputArtifact> make_outputs(const Instance& inst, const fs::path& tmp);

// Finishes every output written under `tmp` (manifests last, written durably), then moves the folder into
// place: a reader sees the old artifact or the new one, never a half-written one, and a manifest that
// cannot be written fails the instance before anything is moved. Returns the manifests, parallel to
// inst.outputs, and adds the outputs to `le`.
std::vector<Json> publish_outputs(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                                  std::map<std::string, OutputArtifact>& outputs, const fs::path& tmp,
                                  const fs::path& trash, const fs::path& output_dir, LockEntry& le);

}  // namespace slimpipe::core
