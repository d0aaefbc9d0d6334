// BERT WordPiece tokenizer matching Hugging Face's BertTokenizerFast: normalization, pre-
// tokenization, greedy longest-match WordPiece, special tokens, truncation, overflow, padding.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/text/encoding.hpp"
#include "slimpipe/text/tokenizer_options.hpp"

namespace slimpipe::text {

struct TokenizerState;  // vocabulary and text encoder, shared by copies

// Immutable after construction; copies share the vocabulary and every method is const and
// safe to call from several threads.
class SLIMPIPE_API WordPieceTokenizer {
 public:
  // `vocab[i]` is the token with id i. Throws slimpipe::Error when it is empty or lacks one of
  // the options' special tokens.
  WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options = {});

  // vocab.txt (one token a line, id = line number) and, when present, tokenizer_config.json.
  static WordPieceTokenizer from_directory(const std::filesystem::path& dir);
  static WordPieceTokenizer from_files(const std::filesystem::path& vocab_txt,
                                       const std::filesystem::path& tokenizer_config_json = {});
  // Writes vocab.txt and tokenizer_config.json into `dir` (created when missing).
  void save(const std::filesystem::path& dir) const;

  // Word pieces of `text` without special tokens ("unaffable" -> "un", "##aff", "##able").
  std::vector<std::string> tokenize(std::string_view text) const;

  // One text or a pair. The first window is returned; further ones are in `overflowing` when
  // options.return_overflowing_tokens is set. Throws slimpipe::Error on impossible truncation
  // (OnlySecond without a pair, a sequence too short to remove enough, stride too large).
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  Encoding encode_pair(std::string_view first, std::string_view second, const EncodeOptions& options = {}) const;

  BatchEncoding encode_batch(const std::vector<std::string_view>& texts, const EncodeOptions& options = {}) const;
  // Question/context style pairs: firsts[i] with seconds[i].
  BatchEncoding encode_pair_batch(const std::vector<std::string_view>& firsts,
                                  const std::vector<std::string_view>& seconds,
                                  const EncodeOptions& options = {}) const;

  // -1 when the token is not in the vocabulary.
  std::int32_t token_to_id(std::string_view token) const;
  // Throws slimpipe::Error for an id outside the vocabulary.
  const std::string& id_to_token(std::int32_t id) const;
  std::size_t vocab_size() const;
  const std::vector<std::string>& vocab() const;
  const TokenizerOptions& options() const { return options_; }

  std::int32_t unk_id() const { return unk_id_; }
  std::int32_t cls_id() const { return cls_id_; }
  std::int32_t sep_id() const { return sep_id_; }
  std::int32_t pad_id() const { return pad_id_; }
  std::int32_t mask_id() const { return mask_id_; }

 private:
  std::vector<Encoding> encode_features(std::string_view first, const std::string_view* second,
                                        const EncodeOptions& options) const;

  std::shared_ptr<const TokenizerState> state_;
  TokenizerOptions options_;
  std::int32_t unk_id_ = -1, cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, mask_id_ = -1;
};

}  // namespace slimpipe::text
