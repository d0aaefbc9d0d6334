// Text in, entities out: a token-classification runtime package (docs/runtime.md, "Package") with its tokenizer
// and tag names (O, B-PER, I-PER, ...). A text's words are its whitespace-separated runs (the words of a CoNLL
// sentence joined with spaces are that sentence's words); each word takes the tag predicted at its first
// sub-token, and entities are the BIO chunks of those word tags, decoded as the token_cls task's evaluation
// decodes them (seqeval's chunking, slimpipe/metrics/chunk.hpp). Texts longer than the package's max_seq_length
// are truncated as the task truncates them: the words past the cut get no tag (Tagging::truncated says so).
//
//   auto tagger = slimpipe_runtime::Tagger::load("runs/ner/rank/runtime");
//   for (const auto& e : tagger.predict({"Angela Merkel visited Paris ."})[0].entities)
//     std::cout << e.type << " " << e.text << " [" << e.start << ", " << e.end << ") " << e.score << "\n";
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/metrics/chunk.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

struct Entity {
  std::string type;  // the tags' type: "PER" for B-PER / I-PER ("_" for a bare B or I, as seqeval names it)
  std::string text;  // the input's bytes [byte_start, byte_end), unchanged (case, accents)
  // [start, end) in code points of the input (what a Python str indexes, Hugging Face offsets count), and in
  // bytes (std::string::substr): from the first sub-token of the first word to the last sub-token of the last
  // word, so whole words without characters the tokenizer drops (control characters).
  std::size_t start = 0, end = 0;
  std::size_t byte_start = 0, byte_end = 0;
  std::size_t first_word = 0, end_word = 0;  // the words [first_word, end_word) of Tagging::words
  // Mean over the entity's words of the softmax probability of the tag predicted for the word (at its first
  // sub-token).
  float score = 0;
};

struct TaggedWord {
  slimpipe::text::Span bytes, chars;  // the whitespace-separated word in the input
  std::int64_t label_id = -1;         // -1: not tagged (cut by truncation, or nothing the tokenizer keeps)
  std::string label;                  // the tag's name ("" when not tagged)
  float score = 0;                    // its softmax probability
};

struct Tagging {
  std::vector<Entity> entities;   // in text order
  std::vector<TaggedWord> words;  // every word of the text
  bool truncated = false;         // the text had more tokens than max_seq_length: its last words have no tag
};

struct TaggerOptions {
  // How tags become entities; the token_cls task's `strict` and `scheme` settings: Lenient (strict = false),
  // StrictIob2 (strict, scheme bio), StrictIobes (strict, scheme bioes). Unset: the package's (package.json's
  // strict and scheme, what the pipeline's [task] used; Lenient for a package that does not record them).
  std::optional<slimpipe::metrics::ChunkMode> chunk_mode;
};

class Tagger {
 public:
  // Model::load (package checks included), then the package's tokenizer. Error (one line) for a folder that is not
  // a token_cls package, has no tokenizer, or (strict chunk modes) has a tag name outside the scheme.
  static Tagger load(const std::filesystem::path& package_dir, const Options& options = {},
                     const TaggerOptions& tagger_options = {});
  Tagger(Tagger&&) noexcept;
  Tagger& operator=(Tagger&&) noexcept;
  ~Tagger();

  // One Tagging per text, in order; `batch_size` texts per model run, padded to the longest of them. Thread-safe:
  // calls from several threads take turns on the one model (one Tagger per thread runs them in parallel).
  std::vector<Tagging> predict(const std::vector<std::string>& texts, std::int64_t batch_size = 32);

  // The tokens the model is given for one text ([CLS] pieces [SEP], truncated to max_seq_length).
  slimpipe::text::Encoding encode(const std::string& text) const;

  const PackageInfo& package() const;
  const slimpipe::text::WordPieceTokenizer& tokenizer() const;
  const ModelInfo& info() const;

 private:
  struct Impl;
  explicit Tagger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimpipe_runtime
