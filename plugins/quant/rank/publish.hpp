// How rank publishes the chosen model: its files hard-linked (or copied) into rank's artifact, after checking
// that every file is the one its manifest vouches for.
#pragma once

#include <filesystem>

#include "slimpipe/artifact.hpp"

namespace slimpipe::ranking {

namespace fs = std::filesystem;

// Copies a model folder's files into `to`, recursing into runtime/; hard links where the file system allows.
void link_tree(const fs::path& from, const fs::path& to);

// Never publishes a file its manifest does not vouch for: every listed file must exist with its recorded size
// and SHA-1 (a truncated or edited model would otherwise become "the best" through a hard link). Throws Error
// naming the file.
void check_before_publishing(const Artifact& a);

// Copies the files of a finished artifact (hard links where the file system allows) except its manifest,
// with its runtime/ export. The caller checks them first (check_before_publishing).
void copy_model_files(const fs::path& from, const fs::path& to);

}  // namespace slimpipe::ranking
