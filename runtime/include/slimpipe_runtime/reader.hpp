// Question and context in, answer span out: an extractive question-answering runtime package (docs/runtime.md,
// "Package") with its tokenizer, max_seq_length, doc_stride and max_query_length. The question is cut to
// max_query_length tokens and the context read in overlapping windows ([CLS] question [SEP] window [SEP]); the
// answer is the best span over all windows, searched as the qa task's evaluation searches it (n-best start and end
// tokens per window, max_answer_length, no null answer: slimpipe/tasks/qa_spans.hpp), so the runtime answers what
// `evaluate` predicts.
//
//   auto reader = slimpipe_runtime::Reader::load("runs/squad/rank/runtime");
//   auto a = reader.answer("Where is the tower?", "The Eiffel Tower is in Paris.");
//   std::cout << a.text << " [" << a.start << ", " << a.end << ") " << a.score << "\n";   // Paris [23, 28) 0.93
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/tasks/qa_spans.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

struct Answer {
  std::string text;  // the context's bytes [byte_start, byte_end), unchanged; "" when no window had a valid span
  // [start, end) in code points of the context (what a Python str indexes), and in bytes.
  std::size_t start = 0, end = 0;
  std::size_t byte_start = 0, byte_end = 0;
  // softmax(start logits)[start token] × softmax(end logits)[end token], each softmax over the context tokens of
  // the window the answer was found in; 0 when none was found.
  float score = 0;
  double logit_score = 0;    // start logit + end logit: what the span search maximizes
  std::int64_t window = -1;  // which window of the context (0, 1, ...) held it; -1: none
  bool found() const { return window >= 0; }
};

struct QaInput {
  std::string question;
  std::string context;
};

struct ReaderOptions {
  // The qa task's decoding settings: start and end candidates per window, longest answer in tokens. Unset: the
  // package's (package.json's n_best_size and max_answer_length, what the pipeline's [task] used; 20 and 30, the
  // task's defaults, for a package that does not record them).
  std::optional<std::size_t> n_best_size;
  std::optional<std::size_t> max_answer_length;
};

class Reader {
 public:
  // Model::load (package checks included), then the package's tokenizer. Error (one line) for a folder that is not
  // a qa package, has no tokenizer, or whose lengths leave no room for a window; or for options below 1.
  static Reader load(const std::filesystem::path& package_dir, const Options& options = {},
                     const ReaderOptions& reader_options = {});
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;
  ~Reader();

  Answer answer(const std::string& question, const std::string& context);
  // One answer per input, in order; the windows of all inputs run `batch_size` at a time, padded to the longest.
  // Thread-safe: calls from several threads take turns on the one model (one Reader per thread runs them in
  // parallel).
  std::vector<Answer> answer(const std::vector<QaInput>& inputs, std::int64_t batch_size = 32);

  // The windows the model is given for one question and context.
  std::vector<slimpipe::tasks::QaWindow> windows(const std::string& question, const std::string& context) const;

  const PackageInfo& package() const;
  const slimpipe::text::WordPieceTokenizer& tokenizer() const;
  const ModelInfo& info() const;

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimpipe_runtime
