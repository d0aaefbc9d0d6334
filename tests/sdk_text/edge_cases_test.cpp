// Hand-checked tokenizer behaviour on a small vocabulary: normalization, splitting, WordPiece,
// offsets, pairs, truncation strategies, overflow windows and padding. Expectations are
// derived by hand from the BertTokenizerFast rules, not produced by running the code.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "text_test_support.hpp"

namespace slimpipe::text {
namespace {

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]",    "[SEP]", "[MASK]",                  // 0-4
    "hello", "world", "##world",  "!",     ".",      ",",  "$", "?",  // 5-12
    "cafe",  "naive", "angstrom", "café",  "Café",                    // 13-17
    "un",    "##aff", "##able",   "你",    "好",     "豈",            // 18-23
    "a",     "##a",   "b",        "c",     "d",      "e",  "f", "g",  // 24-31
    "i",     "ᄒ",    "##ᅡ",     "##ᆫ",  "οδοσ",   "##̇",            // 32-37
};

TokenizerOptions uncased() { return TokenizerOptions{}; }

TokenizerOptions cased() {
  TokenizerOptions o;
  o.do_lower_case = false;
  return o;
}

TokenizerOptions lower_keep_accents() {
  TokenizerOptions o;
  o.strip_accents = false;
  return o;
}

TokenizerOptions no_chinese_split() {
  TokenizerOptions o;
  o.tokenize_chinese_chars = false;
  return o;
}

struct Row {
  const char* name;
  std::string text;
  TokenizerOptions options;
  std::vector<std::string> tokens;
  std::vector<Span> offsets;  // code points
};

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<Row> rows() {
  std::vector<Row> r = {
      {"empty string", "", uncased(), {}, {}},
      {"only whitespace", " \t\n\r  ", uncased(), {}, {}},
      {"lower-cases", "Hello World", uncased(), {"hello", "world"}, {{0, 5}, {6, 11}}},
      {"runs of spaces tabs newlines", "hello \t\n\r  world", uncased(), {"hello", "world"}, {{0, 5}, {11, 16}}},
      {"punctuation run splits per char",
       "hello!!.",
       uncased(),
       {"hello", "!", "!", "."},
       {{0, 5}, {5, 6}, {6, 7}, {7, 8}}},
      {"ascii symbols count as punctuation", "a$b", uncased(), {"a", "$", "b"}, {{0, 1}, {1, 2}, {2, 3}}},
      {"wordpiece continuation", "unaffable", uncased(), {"un", "##aff", "##able"}, {{0, 2}, {2, 5}, {5, 9}}},
      {"missing piece makes the word unk", "unaffablex", uncased(), {"[UNK]"}, {{0, 10}}},
      {"unk word between known ones",
       "hello xyz world",
       uncased(),
       {"hello", "[UNK]", "world"},
       {{0, 5}, {6, 9}, {10, 15}}},
      {"accent stripped (precomposed)", "café", uncased(), {"cafe"}, {{0, 4}}},
      // A dropped trailing mark falls outside the span: HF aligns each kept char to itself.
      {"accent stripped (combining mark)", "cafe\u0301", uncased(), {"cafe"}, {{0, 4}}},
      {"diaeresis stripped", "naïve", uncased(), {"naive"}, {{0, 5}}},
      {"ring and umlaut stripped", "Ångström", uncased(), {"angstrom"}, {{0, 8}}},
      {"cased keeps case and accents", "Café", cased(), {"Café"}, {{0, 4}}},
      {"strip_accents false keeps accents", "CAFÉ", lower_keep_accents(), {"café"}, {{0, 4}}},
      {"cjk chars split", "你好", uncased(), {"你", "好"}, {{0, 1}, {1, 2}}},
      {"cjk inside latin",
       "hello你好world",
       uncased(),
       {"hello", "你", "好", "world"},
       {{0, 5}, {5, 6}, {6, 7}, {7, 12}}},
      {"cjk not split when disabled", "你好", no_chinese_split(), {"[UNK]"}, {{0, 2}}},
      {"cjk compatibility ideograph NFD", "\uF900", uncased(), {"豈"}, {{0, 1}}},
      {"control char removed inside word", std::string("hel\x01lo"), uncased(), {"hello"}, {{0, 6}}},
      {"NUL and U+FFFD removed",
       std::string("hello\0\xEF\xBF\xBD world", 15),
       uncased(),
       {"hello", "world"},
       {{0, 5}, {8, 13}}},
      {"zero-width space removed, word joined", "hello\u200Bworld", uncased(), {"hello", "##world"}, {{0, 5}, {6, 11}}},
      {"no-break space splits", "hello\u00A0world", uncased(), {"hello", "world"}, {{0, 5}, {6, 11}}},
      {"ideographic space splits", "hello\u3000world", uncased(), {"hello", "world"}, {{0, 5}, {6, 11}}},
      {"emoji is an unknown word", "hello 😀", uncased(), {"hello", "[UNK]"}, {{0, 5}, {6, 7}}},
      {"unicode punctuation isolated",
       "hello…world",
       uncased(),
       {"hello", "[UNK]", "world"},
       {{0, 5}, {5, 6}, {6, 11}}},
      {"lone combining mark dropped", "hello \u0301world", uncased(), {"hello", "world"}, {{0, 5}, {7, 12}}},
      {"dotted capital I lower-cases to i", "\u0130", uncased(), {"i"}, {{0, 1}}},
      {"dotted capital I without stripping keeps the dot",
       "\u0130",
       lower_keep_accents(),
       {"i", "##̇"},
       {{0, 1}, {0, 1}}},
      {"hangul syllable decomposes to jamo", "한", uncased(), {"ᄒ", "##ᅡ", "##ᆫ"}, {{0, 1}, {0, 1}, {0, 1}}},
      {"final sigma lower-cased char by char", "ΟΔΟΣ", uncased(), {"οδοσ"}, {{0, 4}}},
      {"special tokens in text kept whole",
       "hello [SEP] [MASK]",
       uncased(),
       {"hello", "[SEP]", "[MASK]"},
       {{0, 5}, {6, 11}, {12, 18}}},
      {"special token glued to words", "a[SEP]b", uncased(), {"a", "[SEP]", "b"}, {{0, 1}, {1, 6}, {6, 7}}},
  };
  // 100 characters is still a word; 101 becomes [UNK] (max_input_chars_per_word).
  Row at_limit{"word of 100 chars", repeat("a", 100), uncased(), {"a"}, {{0, 1}}};
  for (std::size_t i = 1; i < 100; ++i) {
    at_limit.tokens.push_back("##a");
    at_limit.offsets.push_back({i, i + 1});
  }
  r.push_back(at_limit);
  r.push_back({"word of 101 chars is unk", repeat("a", 101), uncased(), {"[UNK]"}, {{0, 101}}});
  r.push_back({"101 accented chars counted after stripping", repeat("á", 101), uncased(), {"[UNK]"}, {{0, 101}}});
  return r;
}

TEST(TokenizerEdgeCases, HandCheckedTable) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.name);
    const WordPieceTokenizer tok(kVocab, row.options);
    EncodeOptions o;
    o.add_special_tokens = false;
    const Encoding e = tok.encode(row.text, o);
    std::vector<std::string> tokens;
    for (std::int32_t id : e.ids) tokens.push_back(tok.id_to_token(id));
    EXPECT_EQ(tokens, row.tokens);
    EXPECT_EQ(e.offsets, row.offsets);
    EXPECT_EQ(tok.tokenize(row.text), row.tokens);
  }
}

TEST(TokenizerEdgeCases, ByteOffsetsCountUtf8Bytes) {
  const WordPieceTokenizer tok(kVocab);
  EncodeOptions o;
  o.add_special_tokens = false;
  const Encoding e = tok.encode("café 😀 hello", o);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e.offsets, (std::vector<Span>{{0, 4}, {5, 6}, {7, 12}}));
  EXPECT_EQ(e.byte_offsets, (std::vector<Span>{{0, 5}, {6, 10}, {11, 16}}));
}

TEST(TokenizerEdgeCases, IdsFollowVocabularyLines) {
  const WordPieceTokenizer tok(kVocab);
  EXPECT_EQ(tok.encode("Hello, world!").ids, (std::vector<std::int32_t>{2, 5, 10, 6, 8, 3}));
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.mask_id(), 4);
  EXPECT_EQ(tok.token_to_id("##able"), 20);
  EXPECT_EQ(tok.token_to_id("nope"), -1);
}

TEST(TokenizerEdgeCases, PairHasSegmentsAndSpecialSpans) {
  const WordPieceTokenizer tok(kVocab);
  const Encoding e = tok.encode_pair("hello", "world!");
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{2, 5, 3, 6, 8, 3}));
  EXPECT_EQ(e.token_type_ids, (std::vector<std::int32_t>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(e.attention_mask, (std::vector<std::int32_t>{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(e.special_tokens_mask, (std::vector<std::int32_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(e.sequence_ids, (std::vector<std::int8_t>{-1, 0, -1, 1, 1, -1}));
  EXPECT_EQ(e.offsets, (std::vector<Span>{{0, 0}, {0, 5}, {0, 0}, {0, 5}, {5, 6}, {0, 0}}));
}

// "a b c d e" has 5 tokens (ids 24, 26, 27, 28, 29); "f g" 2 tokens, "b c d" 3 tokens.
std::vector<std::int32_t> truncated(const WordPieceTokenizer& tok, const char* a, const char* b, Truncation t,
                                    std::size_t max_length) {
  EncodeOptions o;
  o.truncation = t;
  o.max_length = max_length;
  return tok.encode_pair(a, b, o).ids;
}

TEST(TokenizerEdgeCases, LongestFirstCutsTheLongerText) {
  const WordPieceTokenizer tok(kVocab);
  // Budget 8 - 3 = 5; 5 + 2 tokens: the shorter keeps 2, the longer gets 3.
  EXPECT_EQ(truncated(tok, "a b c d e", "f g", Truncation::LongestFirst, 8),
            (std::vector<std::int32_t>{2, 24, 26, 27, 3, 30, 31, 3}));
  // Budget 4 with 5 + 3 tokens: both exceed half, each gets 2.
  EXPECT_EQ(truncated(tok, "a b c d e", "b c d", Truncation::LongestFirst, 7),
            (std::vector<std::int32_t>{2, 24, 26, 3, 26, 27, 3}));
  // Equal lengths 3 + 3 with an odd budget 5: the second text gets the odd token (fast
  // tokenizer; the slow Python tokenizer would give it to the first).
  EXPECT_EQ(truncated(tok, "b c d", "b c d", Truncation::LongestFirst, 8),
            (std::vector<std::int32_t>{2, 26, 27, 3, 26, 27, 28, 3}));
  // Single text: cut to the budget.
  EncodeOptions o;
  o.truncation = Truncation::LongestFirst;
  o.max_length = 4;
  EXPECT_EQ(tok.encode("a b c d e", o).ids, (std::vector<std::int32_t>{2, 24, 26, 3}));
}

TEST(TokenizerEdgeCases, OnlyFirstAndOnlySecond) {
  const WordPieceTokenizer tok(kVocab);
  EXPECT_EQ(truncated(tok, "a b c d e", "f g", Truncation::OnlyFirst, 8),
            (std::vector<std::int32_t>{2, 24, 26, 27, 3, 30, 31, 3}));
  EXPECT_EQ(truncated(tok, "f g", "a b c d e", Truncation::OnlySecond, 8),
            (std::vector<std::int32_t>{2, 30, 31, 3, 24, 26, 27, 3}));
  // Fits: nothing removed.
  EXPECT_EQ(truncated(tok, "f g", "a b", Truncation::OnlySecond, 8),
            (std::vector<std::int32_t>{2, 30, 31, 3, 24, 26, 3}));
  // The second text has 2 tokens but 4 must go.
  EXPECT_THROW(truncated(tok, "a b c d e", "f g", Truncation::OnlySecond, 6), Error);
  EncodeOptions o;
  o.truncation = Truncation::OnlySecond;
  o.max_length = 3;
  EXPECT_THROW(tok.encode("a b c d e", o), Error);
}

TEST(TokenizerEdgeCases, OverflowWindowsWithStrideSingleText) {
  const WordPieceTokenizer tok(kVocab);
  EncodeOptions o;
  o.truncation = Truncation::LongestFirst;
  o.max_length = 5;  // 3 tokens a window
  o.stride = 1;
  o.return_overflowing_tokens = true;
  const Encoding e = tok.encode("a b c d e f g", o);  // ids 24 26..31
  EXPECT_EQ(e.ids, (std::vector<std::int32_t>{2, 24, 26, 27, 3}));
  ASSERT_EQ(e.overflowing.size(), 2u);
  EXPECT_EQ(e.overflowing[0].ids, (std::vector<std::int32_t>{2, 27, 28, 29, 3}));
  EXPECT_EQ(e.overflowing[1].ids, (std::vector<std::int32_t>{2, 29, 30, 31, 3}));
  EXPECT_EQ(e.overflowing[1].offsets, (std::vector<Span>{{0, 0}, {8, 9}, {10, 11}, {12, 13}, {0, 0}}));
}

TEST(TokenizerEdgeCases, QuestionContextWindowsLikeSquadDocStride) {
  const WordPieceTokenizer tok(kVocab);
  EncodeOptions o;
  o.truncation = Truncation::OnlySecond;
  o.max_length = 8;  // 8 - 3 specials - 1 question token = 4 context tokens a window
  o.stride = 2;
  o.return_overflowing_tokens = true;
  o.padding = Padding::MaxLength;
  const BatchEncoding batch = tok.encode_pair_batch({"hello", "a"}, {"a b c d e f g", "b"}, o);
  // Windows of 4 starting every 2: [a b c d] [c d e f] [e f g]; then the short second example.
  ASSERT_EQ(batch.features.size(), 4u);
  EXPECT_EQ(batch.overflow_to_sample_mapping, (std::vector<std::size_t>{0, 0, 0, 1}));
  EXPECT_EQ(batch.features[0].ids, (std::vector<std::int32_t>{2, 5, 3, 24, 26, 27, 28, 3}));
  EXPECT_EQ(batch.features[1].ids, (std::vector<std::int32_t>{2, 5, 3, 27, 28, 29, 30, 3}));
  EXPECT_EQ(batch.features[2].ids, (std::vector<std::int32_t>{2, 5, 3, 29, 30, 31, 3, 0}));
  EXPECT_EQ(batch.features[2].attention_mask, (std::vector<std::int32_t>{1, 1, 1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(batch.features[2].sequence_ids, (std::vector<std::int8_t>{-1, 0, -1, 1, 1, 1, -1, -1}));
  EXPECT_EQ(batch.features[1].offsets,
            (std::vector<Span>{{0, 0}, {0, 5}, {0, 0}, {4, 5}, {6, 7}, {8, 9}, {10, 11}, {0, 0}}));
  EXPECT_EQ(batch.features[3].ids, (std::vector<std::int32_t>{2, 24, 3, 26, 3, 0, 0, 0}));
  EXPECT_EQ(batch.features[3].token_type_ids, (std::vector<std::int32_t>{0, 0, 0, 1, 1, 0, 0, 0}));
}

TEST(TokenizerEdgeCases, StrideMustBeSmallerThanTheWindow) {
  const WordPieceTokenizer tok(kVocab);
  EncodeOptions o;
  o.truncation = Truncation::OnlySecond;
  o.max_length = 6;  // 2 context tokens a window
  o.stride = 2;
  o.return_overflowing_tokens = true;
  EXPECT_THROW(tok.encode_pair("a", "a b c d e", o), Error);
}

TEST(TokenizerEdgeCases, PaddingToLongestInBatchAndMultiple) {
  const WordPieceTokenizer tok(kVocab);
  EncodeOptions o;
  o.padding = Padding::Longest;
  const BatchEncoding batch = tok.encode_batch({"a b c", "a", ""}, o);
  ASSERT_EQ(batch.features.size(), 3u);
  EXPECT_EQ(batch.features[1].ids, (std::vector<std::int32_t>{2, 24, 3, 0, 0}));
  EXPECT_EQ(batch.features[2].ids, (std::vector<std::int32_t>{2, 3, 0, 0, 0}));
  EXPECT_EQ(batch.features[2].attention_mask, (std::vector<std::int32_t>{1, 1, 0, 0, 0}));
  o.pad_to_multiple_of = 4;
  EXPECT_EQ(tok.encode_batch({"a b c", "a"}, o).features[0].size(), 8u);
}

TEST(TokenizerEdgeCases, BertBaseUncasedVocab) {
  const auto dir = testing::shared_data() / "vocab" / "bert-base-uncased";
  if (!std::filesystem::exists(dir / "vocab.txt")) GTEST_SKIP() << "no " << dir.string();
  const auto tok = WordPieceTokenizer::from_files(dir / "vocab.txt");
  EXPECT_EQ(tok.vocab_size(), 30522u);
  EXPECT_EQ(tok.encode("Hello, café world!!").ids,
            (std::vector<std::int32_t>{101, 7592, 1010, 7668, 2088, 999, 999, 102}));
  EXPECT_EQ(tok.tokenize("unaffable naïve"), (std::vector<std::string>{"una", "##ffa", "##ble", "naive"}));
}

TEST(TokenizerEdgeCases, BertBaseChineseVocab) {
  const auto vocab = testing::shared_data() / "vocab" / "bert-base-chinese" / "vocab.txt";
  if (!std::filesystem::exists(vocab)) GTEST_SKIP() << "no " << vocab.string();
  TokenizerOptions o;
  o.do_lower_case = false;
  const WordPieceTokenizer tok(WordPieceTokenizer::from_files(vocab).vocab(), o);
  // Line numbers in vocab.txt minus one: 我 2770, 爱 4264, 北 1267, 京 777, 。 512.
  EXPECT_EQ(tok.encode("我爱北京。").ids, (std::vector<std::int32_t>{101, 2769, 4263, 1266, 776, 511, 102}));
  // U+F900 is a compatibility ideograph of 豈 (U+8C48, id 6488). Without accent stripping
  // there is no NFD, so it stays itself and is unknown; with stripping it becomes 豈.
  EXPECT_EQ(tok.encode("\uF900").ids, (std::vector<std::int32_t>{101, 100, 102}));
  o.strip_accents = true;
  const WordPieceTokenizer stripping(tok.vocab(), o);
  EXPECT_EQ(stripping.encode("\uF900").ids, (std::vector<std::int32_t>{101, 6488, 102}));
}

}  // namespace
}  // namespace slimpipe::text
