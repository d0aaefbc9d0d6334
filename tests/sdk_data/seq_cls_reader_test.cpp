// Sequence-classification readers on small inline files: formats, options and line numbers.
// Error cases check the whole one-line message users will see.
#include "slimpipe/data/seq_cls_reader.hpp"

#include <gtest/gtest.h>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/error.hpp"

using namespace slimpipe::data;

TEST(SeqClsReader, TsvWithHeaderDiscoversLabelsInFileOrder) {
  TempDir dir;
  auto ds = read_seq_cls(
      dir.write("dev.tsv", "text\tlabel\nit 's a charming journey . \t1\n\nbleak and desperate\t0\nfine\t1\n"));
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.labels.names(), (std::vector<std::string>{"1", "0"}));
  EXPECT_EQ(ds.examples[0].text_a, "it 's a charming journey . ");
  EXPECT_FALSE(ds.examples[0].text_b.has_value());
  EXPECT_EQ(ds.examples[1].label, 1);
  EXPECT_EQ(ds.examples[1].line, 4u);  // the blank line is skipped but counted
}

TEST(SeqClsReader, TsvPairsByHeaderNamesAndQuotesAreText) {
  TempDir dir;
  auto ds =
      read_seq_cls(dir.write("p.tsv", "id\tsentence1\tsentence2\tlabel\n7\tHe said \"hi\tHi there\tentailment\n"));
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].text_a, "He said \"hi");
  EXPECT_EQ(*ds.examples[0].text_b, "Hi there");
  EXPECT_EQ(ds.labels.name(ds.examples[0].label), "entailment");
}

TEST(SeqClsReader, PositionalColumnsWithoutHeader) {
  TempDir dir;
  SeqClsReadOptions o;
  o.header = false;
  o.label_column = 0;
  o.text_a_column = 1;
  o.labels = {"0", "1"};
  auto ds = read_seq_cls(dir.write("test.tsv", "1\tgood film\n0\tbad film\n"), o);
  EXPECT_EQ(ds.examples[0].label, 1);
  EXPECT_EQ(ds.examples[1].text_a, "bad film");
}

TEST(SeqClsReader, CsvQuotingFollowsRfc4180) {
  TempDir dir;
  const std::string csv =
      "sentence,label\r\n"
      "\"good, really \"\"good\"\"\",pos\r\n"
      "\"two\nlines\",neg\r\n"
      "plain,pos\r\n";
  auto ds = read_seq_cls(dir.write("d.csv", csv));
  ASSERT_EQ(ds.examples.size(), 3u);
  EXPECT_EQ(ds.examples[0].text_a, "good, really \"good\"");
  EXPECT_EQ(ds.examples[1].text_a, "two\nlines");
  EXPECT_EQ(ds.examples[1].line, 3u);
  EXPECT_EQ(ds.examples[2].line, 5u);  // the quoted line break moved it down one line
}

TEST(SeqClsReader, JsonLinesWithIntegerLabels) {
  TempDir dir;
  auto ds = read_seq_cls(dir.write("d.jsonl", "{\"text\": \"ok\", \"label\": 2}\n{\"text\": \"no\", \"label\": 0}\n"));
  EXPECT_EQ(ds.labels.names(), (std::vector<std::string>{"2", "0"}));
  EXPECT_EQ(ds.examples[1].text_a, "no");
}

TEST(SeqClsReader, ClueJsonPairs) {
  TempDir dir;
  SeqClsReadOptions o;
  o.format = seq_cls_format_from_string("clue");
  o.labels = {"0", "1"};
  auto ds = read_seq_cls(
      dir.write("dev.json", "{\"sentence1\": \"花呗怎么还款\", \"sentence2\": \"花呗如何还钱\", \"label\": \"1\"}\n"),
      o);
  EXPECT_EQ(ds.examples[0].text_a, "花呗怎么还款");
  EXPECT_EQ(*ds.examples[0].text_b, "花呗如何还钱");
  EXPECT_EQ(ds.examples[0].label, 1);
}

TEST(SeqClsReader, TestFilesWithoutLabels) {
  TempDir dir;
  SeqClsReadOptions o;
  o.require_label = false;
  auto ds = read_seq_cls(dir.write("t.jsonl", "{\"sentence\": \"x\"}\n"), o);
  EXPECT_EQ(ds.examples[0].label, -1);
}

TEST(SeqClsReaderErrors, MissingFile) {
  TempDir dir;
  const auto path = dir.path("nope.tsv");
  EXPECT_EQ(error_of([&] { read_seq_cls(path); }), path + ": cannot open file (No such file or directory)");
}

TEST(SeqClsReaderErrors, UnknownLabelNamesFileLineAndTheList) {
  TempDir dir;
  SeqClsReadOptions o;
  o.labels = {"negative", "positive"};
  const auto path = dir.write("dev.tsv", "text\tlabel\ngood\tpositive\nbad\tpositve\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(path, o); }),
            path + ":3: unknown label 'positve' (labels: negative, positive)");
}

TEST(SeqClsReaderErrors, MissingJsonField) {
  TempDir dir;
  const auto path = dir.write("d.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(path); }), path + ":2: missing field 'label'");
}

TEST(SeqClsReaderErrors, MissingHeaderColumn) {
  TempDir dir;
  SeqClsReadOptions o;
  o.label_field = "gold";
  const auto path = dir.write("d.tsv", "text\tlabel\na\t1\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(path, o); }),
            path + ":1: header has no label column 'gold' (columns: 'text', 'label')");
}

TEST(SeqClsReaderErrors, TooFewColumns) {
  TempDir dir;
  const auto path = dir.write("d.tsv", "text\tlabel\na\t1\nno label here\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(path); }), path + ":3: expected at least 2 tab-separated columns, found 1");
}

TEST(SeqClsReaderErrors, MalformedJsonLine) {
  TempDir dir;
  const auto path = dir.write("d.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": }\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(path); }), path + ":2: malformed JSON (expected one JSON object per line)");
}

TEST(SeqClsReaderErrors, MalformedCsvQuoting) {
  TempDir dir;
  const auto unterminated = dir.write("u.csv", "text,label\n\"never closed,1\nx,0\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(unterminated); }),
            unterminated + ":2: unterminated quoted field (a field that starts with \" must end with \")");
  const auto trailing = dir.write("t.csv", "text,label\n\"quoted\"tail,1\n");
  EXPECT_NE(error_of([&] { read_seq_cls(trailing); }).find(trailing + ":2: unexpected 't' after a closing quote"),
            std::string::npos);
  const auto bare = dir.write("b.csv", "text,label\nsay \"hi\",1\n");
  EXPECT_NE(error_of([&] { read_seq_cls(bare); }).find(bare + ":2: quote inside an unquoted field"), std::string::npos);
}

TEST(SeqClsReaderErrors, EmptyFileAndHeaderOnly) {
  TempDir dir;
  const auto empty = dir.write("e.tsv", "\n  \n");
  EXPECT_EQ(error_of([&] { read_seq_cls(empty); }),
            empty + ":1: empty file (expected tab-separated rows: text, label)");
  const auto header = dir.write("h.tsv", "text\tlabel\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(header); }), header + ": no examples (only a header row)");
}

TEST(SeqClsReaderErrors, UnknownFormatName) { EXPECT_THROW(seq_cls_format_from_string("xlsx"), slimpipe::Error); }
