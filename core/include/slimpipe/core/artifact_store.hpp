// Artifacts on disk, as the host writes and checks them: durable writes (every write checked, fsync, atomic
// rename, fsync of the folder), manifests with a SHA-1 per file written last, the cache's cheap check of a
// stored output (stat only, the same for `plan` and `run`), `slimpipe verify` and the cleanup of what
// interrupted runs left in <output_dir>/.tmp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "slimpipe/artifact.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::core {

namespace fs = std::filesystem;

// Writes `content` to "<path>.tmp", checks every write, fsyncs it, renames it over `path` and fsyncs the
// folder. Throws Error naming `path` ("<path>: cannot write: No space left on device") and leaves no
// temp file behind; `path` is then untouched.
void write_file_durably(const fs::path& path, const std::string& content);
// fsync of a folder, so that renames and new entries in it survive a crash. Throws Error naming it.
void sync_dir(const fs::path& dir);

// What the host adds to an output's manifest about its files: the list [{path, size, sha1}] (every file
// but manifest.json, sorted), their total size and the artifact's content hash (the files' names and
// bytes, plus the manifest's kind and metrics). Reads every file once and fsyncs it and every folder, so
// that a manifest written afterwards never describes bytes that a crash could still lose.
struct FilesDescription {
  Json files = Json::array();
  std::uint64_t size_bytes = 0;
  std::string hash;
};
FilesDescription describe_files(const fs::path& dir, const Json& manifest);

// Completes `m` (the plugin's manifest plus the host's fields) with the description of `dir`'s files and
// writes it to <dir>/manifest.json with write_file_durably, last of all the artifact's files. Returns it.
Json finish_manifest(const fs::path& dir, Json m);

// Moves a finished temp folder to `dest`, replacing an older one (moved to `trash` first, then removed),
// and fsyncs dest's parent. Throws std::filesystem_error / Error.
void move_into_place(const fs::path& tmp, const fs::path& dest, const fs::path& trash);

// The cache's check of a stored output at `dir` (`run_dir` only shortens paths in messages): "" when its
// manifest is readable, its hash is `expected_hash` (when given) and every file it lists exists with the
// recorded size. Stats files, reads none but the manifest. Otherwise why it must be rebuilt:
// "output quant/x=1 is missing (manifest.json is empty)",
// "damaged: quant/x=1/model.safetensors is 1000 bytes, manifest says 4194304; rebuild".
std::string check_stored_output(const fs::path& dir, const fs::path& run_dir, const std::string& expected_hash);

// `slimpipe verify`: every artifact of a run folder (those pipeline.lock records as done, and every folder
// holding a manifest.json) checked against its manifest: sizes and, unless `quick`, SHA-1s.
struct VerifyResult {
  std::size_t artifacts = 0;
  std::vector<std::string> damaged;   // one line per damaged artifact: "<id> (<path>): <problem>; <problem>"
  std::vector<std::string> warnings;  // about pipeline.lock and its journal
};
VerifyResult verify_run_folder(const fs::path& run_dir, bool quick);

// Removes what interrupted runs left in `tmp_root` (<output_dir>/.tmp): each run writes under
// .tmp/<its pid>; a folder of a live process other than this one is kept. Call only while holding the run
// folder's RunLock. Never throws; returns the entries it could not remove.
std::vector<std::string> remove_temp_leftovers(const fs::path& tmp_root);

}  // namespace slimpipe::core
