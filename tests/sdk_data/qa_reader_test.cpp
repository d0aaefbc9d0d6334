// SQuAD-layout reader: code-point answer offsets, span verification, and where errors point.
// Also the UTF-8 offset helpers the verification relies on.
#include "slimpipe/data/qa_reader.hpp"

#include <gtest/gtest.h>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"

using namespace slimpipe::data;

namespace {
// One article; the context has two 2-byte characters (é) before the answer "Denver".
std::string squad(const std::string& answer_text, int answer_start, const std::string& id = "q1") {
  return "{\"version\": \"1.1\", \"data\": [{\"title\": \"Café\", \"paragraphs\": [{\n"
         "  \"context\": \"Café née in Denver.\",\n"
         "  \"qas\": [\n"
         "    {\"id\": \"" +
         id + "\", \"question\": \"Where?\", \"answers\": [{\"text\": \"" + answer_text +
         "\", \"answer_start\": " + std::to_string(answer_start) +
         "}]}\n"
         "  ]}]}]}\n";
}
}  // namespace

TEST(Utf8, OffsetsCountCodePoints) {
  const std::string s = "aé中😀b";  // 1 + 2 + 3 + 4 + 1 bytes
  EXPECT_EQ(utf8_length(s), 5u);
  EXPECT_EQ(char_to_byte_offset(s, 3), 6u);
  EXPECT_EQ(char_to_byte_offset(s, 5), s.size());
  EXPECT_EQ(byte_to_char_offset(s, 7), 3u);  // inside 😀
  EXPECT_EQ(char_byte_offsets(s), (std::vector<std::size_t>{0, 1, 3, 6, 10, 11}));
  EXPECT_EQ(utf8_encode(utf8_decode(s)), s);
  EXPECT_THROW(char_to_byte_offset(s, 6), slimpipe::Error);
  EXPECT_FALSE(utf8_valid("\xC3"));
  EXPECT_FALSE(utf8_valid("\xC0\xAF"));  // overlong "/"
  EXPECT_THROW(utf8_length("a\xFF"), slimpipe::Error);
}

TEST(QaReader, AnswerStartIsConvertedFromCodePointsToBytes) {
  TempDir dir;
  auto ds = read_qa(dir.write("dev.json", squad("Denver", 12)));
  ASSERT_EQ(ds.examples.size(), 1u);
  const auto& ex = ds.examples[0];
  EXPECT_EQ(ex.title, "Café");
  EXPECT_EQ(ex.answers[0].char_start, 12u);
  EXPECT_EQ(ex.answers[0].byte_start, 14u);
  EXPECT_EQ(ex.context.substr(ex.answers[0].byte_start, 6), "Denver");
  EXPECT_EQ(ex.line, 4u);
}

TEST(QaReaderErrors, AnswerSpanOutsideContext) {
  TempDir dir;
  const auto path = dir.write("dev.json", squad("Denver", 30));
  EXPECT_EQ(
      error_of([&] { read_qa(path); }),
      path + ":4:12: question 'q1': answer_start 30 + 6 characters is past the end of the context (19 characters)");
}

TEST(QaReaderErrors, AnswerTextMismatch) {
  TempDir dir;
  // One off, as a reader mixing bytes and code points would be.
  const auto path = dir.write("dev.json", squad("Denver", 13));
  EXPECT_EQ(error_of([&] { read_qa(path); }),
            path + ":4:12: question 'q1': answer text 'Denver' does not match the context at character 13 ('enver.')");
}

TEST(QaReaderErrors, MissingFieldDuplicateIdAndMalformedJson) {
  TempDir dir;
  const auto no_q = dir.write(
      "a.json", "{\"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"x\"}]}]}]}");
  EXPECT_EQ(error_of([&] { read_qa(no_q); }), no_q + ":1:73: missing field 'question' in a question");
  const std::string qa = "{\"id\": \"d\", \"question\": \"q\", \"answers\": [{\"text\": \"c\", \"answer_start\": 0}]}";
  const auto dup =
      dir.write("b.json", "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [" + qa + ",\n" + qa + "]}]}]}");
  EXPECT_EQ(error_of([&] { read_qa(dup); }), dup + ":2:8: question 'd': duplicate question id");
  const auto bad = dir.write("c.json", "{\"data\": [\n  {\"paragraphs\": ]}");
  EXPECT_EQ(error_of([&] { read_qa(bad); }), bad + ":2:18: malformed JSON (expected SQuAD JSON)");
  const auto no_data = dir.write("d.json", "{\"version\": \"1.1\"}");
  EXPECT_NE(error_of([&] { read_qa(no_data); }).find(no_data + ":1: missing field 'data'"), std::string::npos);
}

TEST(QaReaderErrors, EmptyFileAndNoAnswers) {
  TempDir dir;
  const auto empty = dir.write("e.json", "");
  EXPECT_NE(error_of([&] { read_qa(empty); }).find(empty + ":1: empty file"), std::string::npos);
  const auto none = dir.write("n.json",
                              "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"z\", "
                              "\"question\": \"q\", \"answers\": []}]}]}]}");
  EXPECT_NE(error_of([&] { read_qa(none); }).find("question 'z': no answers"), std::string::npos);
  QaReadOptions o;
  o.require_answers = false;
  EXPECT_EQ(read_qa(none, o).examples.size(), 1u);
}
