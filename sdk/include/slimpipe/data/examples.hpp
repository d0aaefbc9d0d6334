// Raw (untokenized) examples for the three tasks, and the datasets readers return.
// `line` is where the example starts in its file (0 for synthetic data) so later stages can cite it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/data/label_set.hpp"

namespace slimpipe::data {

struct SeqClsExample {
  std::string text_a;
  std::optional<std::string> text_b;  // set for sentence-pair tasks
  std::int64_t label = -1;            // id in the dataset's LabelSet; -1 when the file has none
  std::size_t line = 0;
};

struct TokenClsExample {
  std::vector<std::string> words;
  std::vector<std::int64_t> tags;  // one id per word, in the dataset's LabelSet
  std::size_t line = 0;            // line of the first word
};

struct QaAnswer {
  std::string text;
  std::size_t char_start = 0;  // in code points, as SQuAD's answer_start
  std::size_t byte_start = 0;  // the same position in the UTF-8 context
};

struct QaExample {
  std::string id;
  std::string title;
  std::string question;
  std::string context;
  std::vector<QaAnswer> answers;  // verified: context.substr(byte_start, text.size()) == text
  std::size_t line = 0;           // line of the question's id (SQuAD files are often one line)
};

struct SeqClsDataset {
  std::string source;  // file path, or "synthetic(size=..,seed=..)"
  LabelSet labels;
  std::vector<SeqClsExample> examples;
};

struct TokenClsDataset {
  std::string source;
  LabelSet labels;  // tag names such as O, B-PER, I-PER
  std::vector<TokenClsExample> examples;
};

struct QaDataset {
  std::string source;
  std::vector<QaExample> examples;
};

}  // namespace slimpipe::data
