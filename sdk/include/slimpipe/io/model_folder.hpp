// Model folders between nodes: publishing a finished model's files into a node's own artifact (hard links where the
// file system allows) after checking them against their manifest, and following the input_model records of the
// model contract (slimpipe/model_manifest.hpp) back to the fp32 models a model was made from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "slimpipe/artifact.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/model_manifest.hpp"

namespace slimpipe::io {

namespace fs = std::filesystem;

// Copies a model folder's files into `to`, recursing into runtime/; hard links where the file system allows.
SLIMPIPE_API void link_tree(const fs::path& from, const fs::path& to);

// Never publishes a file its manifest does not vouch for: every listed file must exist with its recorded size
// and SHA-1 (a truncated or edited model would otherwise be shipped through a hard link). Throws Error
// "<who>: will not publish <id>: <file>…" naming each bad file and how to rebuild it.
SLIMPIPE_API void check_before_publishing(const Artifact& a, const std::string& who);

// Copies the files of a finished artifact (hard links where the file system allows) except its manifest and
// metrics, with its runtime/ export. The caller checks them first (check_before_publishing).
SLIMPIPE_API void copy_model_files(const fs::path& from, const fs::path& to);

// The kind a model folder's manifest records; "model" for a folder without one (the user's model).
SLIMPIPE_API std::string model_kind(const fs::path& dir);

// The fp32 model a model block says it was made from (its input_model), when that folder holds a model.
SLIMPIPE_API std::optional<ModelRef> fp32_parent(const std::optional<ModelManifest>& mm);

// The furthest fp32 ancestor reachable through the input_model records: for a PTQ cell of a pruned width, the
// unpruned model the width was distilled from (the user's model). std::nullopt when `a` records no input model.
SLIMPIPE_API std::optional<ModelRef> furthest_fp32_ancestor(const Artifact& a);

}  // namespace slimpipe::io
