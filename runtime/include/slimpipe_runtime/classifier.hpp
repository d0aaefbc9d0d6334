// Text in, label and scores out: a sequence-classification runtime package (docs/runtime.md, "Package") with its
// tokenizer and label names. The texts are tokenized as the seq_cls task featurizes them for evaluation
// ([CLS] a [SEP] (b [SEP]), longest-first truncation to the package's max_seq_length), run in batches padded to
// their longest row, and the logits turned into softmax scores.
//
//   auto clf = slimpipe_runtime::Classifier::load("runs/quickstart/rank/runtime");
//   for (const auto& p : clf.predict({"a great movie", "dull"})) std::cout << p.label << " " << p.score << "\n";
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

struct Prediction {
  std::string label;          // the package's name of the best label
  std::int64_t label_id = 0;  // its id
  float score = 0;            // its softmax probability
  std::vector<float> scores;  // every label's probability, by id
  std::vector<float> logits;  // the model's raw outputs, by id
};

class Classifier {
 public:
  // Model::load (package checks included), then the package's tokenizer. Error (one line) for a folder that is not
  // a seq_cls package or has no tokenizer.
  static Classifier load(const std::filesystem::path& package_dir, const Options& options = {});
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;
  ~Classifier();

  // One prediction per text, in order; `batch_size` texts per model run. Thread-safe: calls from several threads
  // take turns on the one model (one Classifier per thread runs them in parallel).
  std::vector<Prediction> predict(const std::vector<std::string>& texts, std::int64_t batch_size = 32);
  // Sentence pairs (firsts[i], seconds[i]), token type 1 on the second text.
  std::vector<Prediction> predict_pairs(const std::vector<std::string>& firsts, const std::vector<std::string>& seconds,
                                        std::int64_t batch_size = 32);

  // The token ids the model is given for one text (or pair): what predict runs, before padding.
  slimpipe::text::Encoding encode(const std::string& text) const;
  slimpipe::text::Encoding encode_pair(const std::string& first, const std::string& second) const;

  const PackageInfo& package() const;
  const slimpipe::text::WordPieceTokenizer& tokenizer() const;
  const ModelInfo& info() const;

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimpipe_runtime
