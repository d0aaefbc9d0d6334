// Token-classification readers: CoNLL columns and JSON lines, and their error messages.
// Tags stay per word; sub-word alignment is not the reader's job.
#include "slimpipe/data/token_cls_reader.hpp"

#include <gtest/gtest.h>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/error.hpp"

using namespace slimpipe::data;

namespace {
const char* kConll =
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n";
}

TEST(TokenClsReader, ConllSkipsDocstartAndSplitsOnBlankLines) {
  TempDir dir;
  auto ds = read_token_cls(dir.write("eng.testa", kConll));
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[0].words, (std::vector<std::string>{"EU", "rejects", "German"}));
  EXPECT_EQ(ds.labels.names(), (std::vector<std::string>{"B-ORG", "O", "B-MISC", "B-PER", "I-PER"}));
  EXPECT_EQ(ds.examples[1].tags, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(ds.examples[0].line, 3u);
  EXPECT_EQ(ds.examples[1].line, 8u);
}

TEST(TokenClsReader, ConllTagColumnByIndex) {
  TempDir dir;
  TokenClsReadOptions o;
  o.tag_column = 2;  // the chunk column
  auto ds = read_token_cls(dir.write("x.conll", kConll), o);
  EXPECT_EQ(ds.labels.name(ds.examples[0].tags[1]), "B-VP");
}

TEST(TokenClsReader, JsonLinesWithNamesOrIds) {
  TempDir dir;
  auto ds =
      read_token_cls(dir.write("a.jsonl", "{\"tokens\": [\"John\", \"runs\"], \"labels\": [\"B-PER\", \"O\"]}\n"));
  EXPECT_EQ(ds.labels.name(ds.examples[0].tags[0]), "B-PER");
  TokenClsReadOptions o;
  o.labels = {"O", "B-PER", "I-PER"};
  auto ids = read_token_cls(dir.write("b.jsonl", "{\"tokens\": [\"John\", \"Smith\"], \"ner_tags\": [1, 2]}\n"), o);
  EXPECT_EQ(ids.examples[0].tags, (std::vector<std::int64_t>{1, 2}));
}

TEST(TokenClsReaderErrors, WrongColumnCount) {
  TempDir dir;
  const auto path = dir.write("x.conll", "EU NNP B-NP B-ORG\nrejects B-VP O\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path); }), path + ":2: expected 4 columns as on line 1, found 3");
}

TEST(TokenClsReaderErrors, TagColumnOutOfRange) {
  TempDir dir;
  TokenClsReadOptions o;
  o.tag_column = 5;
  const auto path = dir.write("x.conll", "EU B-ORG\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path, o); }),
            path + ":1: expected word column 0 and tag column 5, but the line has 2 columns");
}

TEST(TokenClsReaderErrors, UnknownTag) {
  TempDir dir;
  TokenClsReadOptions o;
  o.labels = {"O", "B-PER", "I-PER"};
  const auto path = dir.write("x.conll", "John B-PER\nin O\nParis B-LOC\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path, o); }), path + ":3: unknown label 'B-LOC' (labels: O, B-PER, I-PER)");
}

TEST(TokenClsReaderErrors, TokensAndLabelsLengthMismatch) {
  TempDir dir;
  const auto path = dir.write(
      "x.jsonl", "{\"tokens\": [\"a\"], \"labels\": [\"O\"]}\n{\"tokens\": [\"a\", \"b\"], \"labels\": [\"O\"]}\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path); }), path + ":2: 2 tokens but 1 labels (expected one label per token)");
}

TEST(TokenClsReaderErrors, MissingFieldAndMalformedJson) {
  TempDir dir;
  const auto missing = dir.write("m.jsonl", "{\"words\": [\"a\"], \"labels\": [\"O\"]}\n");
  EXPECT_EQ(error_of([&] { read_token_cls(missing); }), missing + ":1: missing field 'tokens'");
  const auto bad = dir.write("b.jsonl", "{\"tokens\": [\"a\"], \"labels\": [\"O\"]\n");
  EXPECT_EQ(error_of([&] { read_token_cls(bad); }), bad + ":1: malformed JSON (expected one JSON object per line)");
}

TEST(TokenClsReaderErrors, IntegerTagsNeedNames) {
  TempDir dir;
  const auto path = dir.write("x.jsonl", "{\"tokens\": [\"a\"], \"ner_tags\": [0]}\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path); }),
            path + ":1: integer tags need the tag names (set labels = [\"O\", \"B-PER\", ...])");
}

TEST(TokenClsReaderErrors, OnlyDocstartIsEmpty) {
  TempDir dir;
  const auto path = dir.write("x.conll", "-DOCSTART- -X- O\n\n");
  EXPECT_EQ(error_of([&] { read_token_cls(path); }), path + ": no sentences (only -DOCSTART- or blank lines)");
}
