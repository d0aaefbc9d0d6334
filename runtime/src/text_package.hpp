// What the text front ends (Classifier, Tagger, Reader) share: loading a package with its tokenizer, and running
// token-id rows as one batch padded to its longest row. Internal to the runtime library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "slimpipe/text/encoding.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::detail {

struct TextPackage {
  Model model;
  slimpipe::text::WordPieceTokenizer tokenizer;
};

// Model::load (package checks included), then the package's tokenizer. Error (one line naming package.json) for a
// folder that is not a package, a package whose task is not `task`, or one without a tokenizer; `who` names the
// front end in the message ("a Classifier").
TextPackage load_text_package(const std::filesystem::path& dir, const Options& options, const std::string& task,
                              const std::string& who);

// The batch buffers of one front end, reused from call to call.
class PaddedBatch {
 public:
  // Runs rows[0..n) (their ids and token types) padded with `pad_id`, token type 0 and mask 0 to the longest row.
  // The output views the model's workspace: valid until its next run.
  const Output& run(Model& model, const slimpipe::text::Encoding* const* rows, std::size_t n, std::int32_t pad_id);

 private:
  std::vector<std::int64_t> ids_, types_, mask_;
};

// Error("<what>: must be >= 1, got <n>") unless n >= 1.
void check_batch_size(std::int64_t batch_size, const std::string& what);

}  // namespace slimpipe_runtime::detail
