// Readers for sequence-classification files: TSV, CSV, JSON lines and CLUE-style JSON.
// Single sentences and sentence pairs; labels are names mapped through a LabelSet.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::data {

enum class SeqClsFormat {
  Auto,       // by extension: .tsv, .csv, .jsonl/.json (one object per line)
  Tsv,        // tab-separated, quotes are plain text (as GLUE writes it)
  Csv,        // comma-separated, RFC 4180 quoting
  JsonLines,  // one JSON object per line
  Clue,       // CLUE's *.json: also one object per line, sentence/sentence1/sentence2/label
};

struct SeqClsReadOptions {
  SeqClsFormat format = SeqClsFormat::Auto;

  // TSV/CSV.
  bool header = true;  // first row names the columns
  char delimiter = 0;  // 0: '\t' for TSV, ',' for CSV
  // With a header: column names. Empty means the first present of
  //   text_a: text, sentence, sentence1, text_a, query;  text_b: text_b, sentence2;  label: label.
  // JSON formats use the same names (and defaults) for object fields.
  std::string text_a_field;
  std::string text_b_field;
  std::string label_field;
  // Without a header: 0-based column indices; text_b_column < 0 means single sentences.
  int text_a_column = 0;
  int text_b_column = -1;
  int label_column = 1;

  // Non-empty: the label names, in id order; any other label in the file is an error.
  // Empty: labels are numbered in the order they first appear.
  std::vector<std::string> labels;
  // false: rows without a label (test files) are read with label -1.
  bool require_label = true;
};

SLIMPIPE_API SeqClsFormat seq_cls_format_from_string(const std::string& name);  // "tsv", "csv", ...
SLIMPIPE_API SeqClsDataset read_seq_cls(const std::string& path, const SeqClsReadOptions& options = {});

}  // namespace slimpipe::data
