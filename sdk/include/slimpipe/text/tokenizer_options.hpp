// Settings of a BERT WordPiece tokenizer, read from and written to Hugging Face's
// tokenizer_config.json so saved models load in transformers unchanged.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::text {

struct SLIMPIPE_API TokenizerOptions {
  bool do_lower_case = true;
  // Unset: follows do_lower_case, as in Hugging Face's BertNormalizer.
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  // Drop control characters and map whitespace to ' ' (BertNormalizer clean_text).
  bool clean_text = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  std::size_t model_max_length = 512;
  std::size_t max_input_chars_per_word = 100;  // longer words become unk_token
  std::string continuing_subword_prefix = "##";

  bool strips_accents() const { return strip_accents.value_or(do_lower_case); }

  // Reads the keys above from a parsed tokenizer_config.json; absent keys keep their defaults.
  // Throws slimpipe::Error naming `source` and the key when a value has the wrong type.
  static TokenizerOptions from_json(const Json& config, const std::string& source);
  // Throws slimpipe::Error naming the file when it is unreadable or not a JSON object.
  static TokenizerOptions load(const std::filesystem::path& tokenizer_config_json);

  // The Hugging Face layout: tokenizer_class BertTokenizer plus the keys above.
  Json to_json() const;
  void save(const std::filesystem::path& tokenizer_config_json) const;
};

}  // namespace slimpipe::text
