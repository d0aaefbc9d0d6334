// Readers for token-classification (NER) files: CoNLL columns and JSON lines.
// Words stay whole; aligning tags to sub-words is featurization's job, not the reader's.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::data {

enum class TokenClsFormat {
  Auto,       // .jsonl/.json: JsonLines; anything else: Conll
  Conll,      // one word per line, whitespace-separated columns, blank line between sentences
  JsonLines,  // {"tokens": [...], "labels": [...]} per line
};

struct TokenClsReadOptions {
  TokenClsFormat format = TokenClsFormat::Auto;

  // CoNLL: 0-based columns; tag_column < 0 counts from the end (-1: last column, which is where
  // CoNLL-2003's NER tag sits: `word POS chunk NER`). Every word line must have the same number
  // of columns as the first one. Lines starting with -DOCSTART- are skipped.
  int word_column = 0;
  int tag_column = -1;

  // JSON lines: field names; empty tags_field means "labels", then "ner_tags".
  std::string tokens_field = "tokens";
  std::string tags_field;

  // Non-empty: the tag names in id order (unknown tags are errors; integer tags in JSON index
  // this list). Empty: tags are numbered in order of first appearance.
  std::vector<std::string> labels;
};

SLIMPIPE_API TokenClsFormat token_cls_format_from_string(const std::string& name);  // "conll", "jsonl"
SLIMPIPE_API TokenClsDataset read_token_cls(const std::string& path, const TokenClsReadOptions& options = {});

}  // namespace slimpipe::data
