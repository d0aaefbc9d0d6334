// Inputs the fuzz target fuzz_data_readers (tests/fuzz) found to escape the readers as something other than
// slimpipe::Error, reduced: now one-line errors naming the file.
#include <gtest/gtest.h>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/error.hpp"

using namespace slimpipe::data;

// nlohmann::json reports a number beyond a double as out_of_range (not parse_error), which escaped read_qa.
TEST(ReaderFuzz, SquadNumberOutOfRangeIsAnError) {
  TempDir dir;
  const std::string path = dir.write("train.json", "799999999999999999999E999999999999999999999999999");
  try {
    read_qa(path);
    FAIL() << "no error";
  } catch (const slimpipe::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(path + ": malformed JSON: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("number overflow"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(expected SQuAD JSON)"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// A CSV file holding only "" (one blank record) has no header row: records.at(0) threw std::out_of_range.
TEST(ReaderFuzz, CsvWithOnlyABlankRecordIsAnError) {
  TempDir dir;
  const std::string path = dir.write("train.csv", "\"\"");
  for (bool header : {true, false}) {
    SeqClsReadOptions o;
    o.header = header;
    EXPECT_EQ(error_of([&] { read_seq_cls(path, o); }), path + ": no examples (no rows)") << "header " << header;
  }
}
