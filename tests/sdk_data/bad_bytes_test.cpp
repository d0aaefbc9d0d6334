// Data files that are not UTF-8 text: invalid bytes and NUL bytes are refused with one line naming the
// file, the line and the byte; a folder given as a data file says so; quoted text is clipped.
#include <gtest/gtest.h>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/data/text_file.hpp"
#include "slimpipe/data/token_cls_reader.hpp"
#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

using namespace slimpipe::data;

namespace {
const std::string kBad = "\xC3\x28";  // a lead byte followed by a non-continuation byte
const std::string kNul(1, '\0');
}  // namespace

TEST(BadBytes, InvalidUtf8InEveryReaderNamesFileLineAndByte) {
  TempDir dir;
  const std::string tsv = dir.write("train.tsv", "text\tlabel\ngood\t1\nab" + kBad + "cd\t0\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(tsv); }), tsv + ":3: invalid UTF-8 at byte 3 (expected UTF-8 text)");
  const std::string csv = dir.write("train.csv", "text,label\r\ngood,1\r\n\"x" + kBad + "\",0\r\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(csv); }), csv + ":3: invalid UTF-8 at byte 3 (expected UTF-8 text)");
  const std::string jsonl =
      dir.write("train.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"" + kBad + "\", \"label\": 0}\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(jsonl); }), jsonl + ":2: invalid UTF-8 at byte 11 (expected UTF-8 text)");
  const std::string conll = dir.write("train.conll", "EU B-ORG\nrejects O\n\nGerman" + kBad + " B-MISC\n");
  EXPECT_EQ(error_of([&] { read_token_cls(conll); }), conll + ":4: invalid UTF-8 at byte 7 (expected UTF-8 text)");
  const std::string squad = dir.write(
      "dev.json", "{\"data\": [{\"title\": \"t\",\n \"paragraphs\": [{\"context\": \"\xFF\", \"qas\": []}]}]}");
  EXPECT_EQ(error_of([&] { read_qa(squad); }), squad + ":2: invalid UTF-8 at byte 30 (expected UTF-8 text)");
}

TEST(BadBytes, NulBytesAreRefusedToo) {
  TempDir dir;
  const std::string tsv = dir.write("train.tsv", "text\tlabel\ngo" + kNul + "od\t1\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(tsv); }), tsv + ":2: NUL byte at byte 3 (expected UTF-8 text)");
  const std::string jsonl = dir.write("t.jsonl", "{\"tokens\": [\"a\"], \"labels\": [\"O\"]}\n" + kNul + "\n");
  EXPECT_EQ(error_of([&] { read_token_cls(jsonl); }), jsonl + ":2: NUL byte at byte 1 (expected UTF-8 text)");
  // The first bad byte wins, whichever kind it is.
  const std::string both = dir.write("both.tsv", "a" + kBad + "\t1\nb" + kNul + "\t0\n");
  EXPECT_EQ(error_of([&] { read_seq_cls(both); }), both + ":1: invalid UTF-8 at byte 2 (expected UTF-8 text)");
}

TEST(BadBytes, Utf16FilesAreNamedAsSuch) {
  TempDir dir;
  const std::string f = dir.write("train.tsv", std::string("\xFF\xFEt\0e\0", 6));
  EXPECT_EQ(error_of([&] { read_seq_cls(f); }),
            f + ":1: the file is UTF-16 (expected UTF-8 text; convert it, e.g. iconv -f UTF-16 -t UTF-8)");
}

TEST(BadBytes, ValidUtf8IsReadAsBefore) {
  TempDir dir;
  // A byte-order mark, CJK, an emoji and a literal U+FFFD are all fine.
  const std::string f =
      dir.write("ok.tsv", "\xEF\xBB\xBFtext\tlabel\n\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xEF\xBF\xBD\t1\n");
  const auto ds = read_seq_cls(f);
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].text_a, "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xEF\xBF\xBD");
}

TEST(BadBytes, OneValidatorForOverlongsSurrogatesAndTruncation) {
  EXPECT_EQ(utf8_first_invalid("plain ascii"), std::string_view::npos);
  EXPECT_EQ(utf8_first_invalid("\xEF\xBF\xBD"), std::string_view::npos);  // U+FFFD itself
  EXPECT_EQ(utf8_first_invalid("ab\xC0\xAF"), 2u);                        // overlong '/'
  EXPECT_EQ(utf8_first_invalid("a\xED\xA0\x80"), 1u);                     // surrogate U+D800
  EXPECT_EQ(utf8_first_invalid("abc\xE4\xBD"), 3u);                       // truncated at the end
  EXPECT_EQ(utf8_first_invalid("\xF4\x90\x80\x80"), 0u);                  // past U+10FFFF
  EXPECT_FALSE(utf8_valid("\x80"));
  EXPECT_THROW(utf8_decode("x\xFF"), slimpipe::Error);
}

TEST(BadBytes, VocabularyWithInvalidBytesNamesItsLine) {
  TempDir dir;
  const std::string vocab = dir.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s" + kBad + "\n");
  EXPECT_EQ(error_of([&] { slimpipe::text::WordPieceTokenizer::from_files(vocab); }),
            vocab + ":7: invalid UTF-8 at byte 4 (expected UTF-8 text)");
  const std::string nul = dir.write("nul.txt", "[PAD]\n[UNK]\r\n" + kNul + "\n");
  EXPECT_EQ(error_of([&] { slimpipe::text::WordPieceTokenizer::from_files(nul); }),
            nul + ":3: NUL byte at byte 1 (expected UTF-8 text)");
}

TEST(FolderAsDataFile, IsADirectoryNotAnEmptyFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.path("train.tsv"));
  std::filesystem::create_directories(dir.path("dev.json"));
  std::filesystem::create_directories(dir.path("train.conll"));
  EXPECT_EQ(error_of([&] { read_seq_cls(dir.path("train.tsv")); }),
            dir.path("train.tsv") + ": is a directory, expected a file");
  EXPECT_EQ(error_of([&] { read_qa(dir.path("dev.json")); }),
            dir.path("dev.json") + ": is a directory, expected a file");
  EXPECT_EQ(error_of([&] { read_token_cls(dir.path("train.conll")); }),
            dir.path("train.conll") + ": is a directory, expected a file");
  EXPECT_EQ(error_of([&] { slimpipe::text::WordPieceTokenizer::from_files(dir.path("train.tsv")); }),
            dir.path("train.tsv") + ": is a directory, expected a file");
}

TEST(LongLinesInData, QuotedLabelsAndHeadersAreClipped) {
  TempDir dir;
  const std::string big(5 << 20, 'x');
  SeqClsReadOptions closed;
  closed.labels = {"0", "1"};
  const std::string f = dir.write("dev.tsv", "text\tlabel\nfine\t" + big + "\n");
  const std::string m = error_of([&] { read_seq_cls(f, closed); });
  EXPECT_EQ(m, f + ":2: unknown label '" + std::string(200, 'x') + "\u2026' (labels: 0, 1)");
  const std::string h = dir.write("h.tsv", big + "\tlabel\nfine\t1\n");
  const std::string hm = error_of([&] { read_seq_cls(h); });
  EXPECT_LT(hm.size(), 600u);
  EXPECT_NE(hm.find(h + ":1: header has no text column"), std::string::npos) << hm.substr(0, 600);
  EXPECT_NE(hm.find("\u2026)"), std::string::npos) << hm.substr(0, 600);
}
