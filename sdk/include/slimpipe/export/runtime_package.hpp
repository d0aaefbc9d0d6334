// The runtime package: what a runtime export holds beside runtime.json and weights.bin so that an application
// can go from text to predictions with slimpipe_runtime alone: the vocabulary and tokenizer options, the task,
// the label names, the sequence lengths, and package.json (format version, size and SHA-1 of every file), which
// the runtime checks at load. Format: docs/runtime.md. No LibTorch in this header (the CLI includes it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::exporter {

inline constexpr const char* kPackageJson = "package.json";
inline constexpr int kPackageFormatVersion = 1;

// Where a package's tokenizer and sequence lengths come from; every field unset is found as documented.
struct SLIMPIPE_API PackageSettings {
  // vocab.txt and (optionally) tokenizer_config.json. Unset: the export folder's parent when it holds vocab.txt
  // (ptq, dynabert and rank write runtime/ inside the model folder they saved with its tokenizer); none found: the
  // package has no tokenizer (token ids in, as before).
  std::optional<std::filesystem::path> tokenizer_dir;
  // Unset: the [task] of the TaskPackageScope in force (configure_task opens one), else min(tokenizer_config's
  // model_max_length, max_position_embeddings); QA: doc_stride 128 and max_query_length 64 (Hugging Face's
  // run_qa.py defaults).
  std::optional<std::int64_t> max_seq_length, doc_stride, max_query_length;
  // Decoding defaults the runtime's front ends take (explicit options override them there). Unset: the
  // TaskPackageScope's [task], else the tasks' defaults. QA: n_best_size 20, max_answer_length 30; token_cls: strict
  // false, scheme "bio" (or "bioes").
  std::optional<std::int64_t> n_best_size, max_answer_length;
  std::optional<bool> strict;
  std::optional<std::string> scheme;
};

// The files of the package in `runtime_dir` that exist, relative to the folder that holds it ("runtime/<name>"),
// in a fixed order: what an artifact's manifest lists so that `slimpipe verify` and the run's checks cover them.
inline std::vector<std::string> runtime_package_files(const std::filesystem::path& runtime_dir) {
  std::vector<std::string> files;
  const std::string prefix = runtime_dir.filename().string() + "/";
  for (const char* f : {"runtime.json", "weights.bin", "vocab.txt", "tokenizer_config.json", kPackageJson}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(runtime_dir / f, ec)) files.push_back(prefix + f);
  }
  return files;
}

// The [task]'s max_seq_length, doc_stride, max_query_length, n_best_size, max_answer_length, strict and scheme
// (those it has) as the defaults of the packages written while this object lives (PackageSettings fields that are
// set still win). Scopes nest: the newest one alive is in force, and when it ends the one before it is again; with
// none alive a package takes the defaults PackageSettings documents. configure_task opens one that lives as long
// as the task it configures, so a pipeline's exports follow its [task] and a later export, once that task is gone,
// inherits nothing from it.
class SLIMPIPE_API TaskPackageScope {
 public:
  explicit TaskPackageScope(const Params& task_params);
  ~TaskPackageScope();
  TaskPackageScope(const TaskPackageScope&) = delete;
  TaskPackageScope& operator=(const TaskPackageScope&) = delete;

 private:
  std::uint64_t id_;
};

// `slimpipe export-runtime HF_DIR OUT`: packages a fine-tuned Hugging Face checkpoint folder (config.json with a
// task architecture, model.safetensors or pytorch_model.bin, vocab.txt, tokenizer_config.json) as an fp32 runtime
// package in OUT. `head` names the task when config.json lists no architecture ("seq_cls", "token_cls", "qa";
// empty: from config.json). The tokenizer comes from HF_DIR unless settings.tokenizer_dir is set; a checkpoint
// without vocab.txt is an error. Errors name the file or flag.
SLIMPIPE_API void export_runtime_package(const std::filesystem::path& hf_dir, const std::filesystem::path& out,
                                         const std::string& head, const PackageSettings& settings = {});

}  // namespace slimpipe::exporter
