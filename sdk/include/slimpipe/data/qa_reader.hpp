// Reader for extractive QA files in SQuAD v1 layout (also CMRC2018, which uses the same layout).
// Every answer span is checked against its context, in code points as SQuAD counts them.
#pragma once

#include <string>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::data {

struct QaReadOptions {
  // false: questions without answers are kept (test files); true: each needs one or more.
  bool require_answers = true;
};

// Reads {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
// "answers": [{"text", "answer_start"}]}]}]}]}. Errors name "<path>:<line>:<column>" of the
// question's id, since SQuAD files are usually a single line.
SLIMPIPE_API QaDataset read_qa(const std::string& path, const QaReadOptions& options = {});

// Checks one answer against its context and fills byte_start; returns an empty string when it
// fits, else what is wrong ("answer_start 700 + 5 characters is past the end of the context
// (612 characters)" or "answer text 'Denver' does not match the context there ('Denve')").
SLIMPIPE_API std::string verify_answer(const std::string& context, QaAnswer& answer);

}  // namespace slimpipe::data
