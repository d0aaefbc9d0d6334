// A runtime package (docs/runtime.md): a runtime export plus what inference from text needs, described by
// package.json: format version, task, label names, sequence lengths, tokenizer files, and the size and SHA-1 of
// every file. read_package checks all of it; Model::load calls it for every folder that holds a package.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace slimpipe_runtime {

inline constexpr int kPackageFormatVersion = 1;

struct PackageInfo {
  std::filesystem::path dir;
  int version = 0;
  std::string task;                 // "seq_cls" | "token_cls" | "qa"
  std::vector<std::string> labels;  // id -> name (seq_cls, token_cls); empty for qa
  std::int64_t max_seq_length = 0;
  std::int64_t doc_stride = 0, max_query_length = 0;  // qa
  // Decoding options of the pipeline that wrote the package, the defaults of Reader and Tagger (their options
  // override them). Optional keys: a package without them (written before they were recorded, or by hand) has
  // the tasks' defaults below.
  std::int64_t n_best_size = 20, max_answer_length = 30;  // qa
  bool strict = false;                                    // token_cls: seqeval's strict chunking
  std::string scheme = "bio";                             // token_cls: "bio" or "bioes" (checked when strict)
  bool has_tokenizer = false;
  std::filesystem::path vocab_file, tokenizer_config_file;  // when has_tokenizer
  struct File {
    std::string path;  // relative to dir
    std::uint64_t bytes = 0;
    std::string sha1;  // hex, as sha1sum prints it
  };
  std::vector<File> files;
};

// True when dir holds a package.json.
bool is_package(const std::filesystem::path& dir);

// Reads dir/package.json and checks its format and version, then every file it lists: present, of the recorded
// size, with the recorded SHA-1. Throws Error with one line naming the file: "<dir>/package.json: package format
// version 2, this runtime reads version 1", "<dir>/weights.bin: SHA-1 … differs from package.json's … (the file
// is damaged or was changed after export)", "<dir>/vocab.txt: missing (package.json lists it)", ...
// verify_files = false skips the size and SHA-1 checks (the fields are still checked).
PackageInfo read_package(const std::filesystem::path& dir, bool verify_files = true);

}  // namespace slimpipe_runtime
