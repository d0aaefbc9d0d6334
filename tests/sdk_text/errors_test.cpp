// Bad tokenizer files fail with one-line slimpipe::Error messages that name the file (and the
// key or position), and a saved tokenizer loads back identical.
#include <gtest/gtest.h>

#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "text_test_support.hpp"

namespace slimpipe::text {
namespace {

using testing::TempDir;
using testing::write_file;

// The message of the slimpipe::Error that `f` throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_one_line_naming(const std::string& message, const std::string& needle) {
  EXPECT_NE(message.find(needle), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

const char* kSmallVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\n";

TEST(TokenizerErrors, MissingVocabFileNamesIt) {
  TempDir dir;
  const std::string msg = error_of([&] { WordPieceTokenizer::from_directory(dir.path()); });
  expect_one_line_naming(msg, (dir.path() / "vocab.txt").string());
}

TEST(TokenizerErrors, EmptyVocabNamesTheFile) {
  TempDir dir;
  write_file(dir.path() / "vocab.txt", "");
  const std::string msg = error_of([&] { WordPieceTokenizer::from_directory(dir.path()); });
  expect_one_line_naming(msg, (dir.path() / "vocab.txt").string());
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_THROW(WordPieceTokenizer(std::vector<std::string>{}), Error);
}

TEST(TokenizerErrors, VocabWithoutUnkTokenNamesFileAndToken) {
  TempDir dir;
  write_file(dir.path() / "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  const std::string msg = error_of([&] { WordPieceTokenizer::from_directory(dir.path()); });
  expect_one_line_naming(msg, (dir.path() / "vocab.txt").string());
  EXPECT_NE(msg.find("[UNK]"), std::string::npos) << msg;
}

TEST(TokenizerErrors, MalformedConfigJsonNamesFileAndPosition) {
  TempDir dir;
  write_file(dir.path() / "vocab.txt", kSmallVocab);
  write_file(dir.path() / "tokenizer_config.json", "{\"do_lower_case\": true,\n  \"unk_token\": }\n");
  const std::string msg = error_of([&] { WordPieceTokenizer::from_directory(dir.path()); });
  expect_one_line_naming(msg, (dir.path() / "tokenizer_config.json").string());
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
}

TEST(TokenizerErrors, ConfigValueOfWrongTypeNamesTheKey) {
  TempDir dir;
  write_file(dir.path() / "vocab.txt", kSmallVocab);
  write_file(dir.path() / "tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
  const std::string msg = error_of([&] { WordPieceTokenizer::from_directory(dir.path()); });
  expect_one_line_naming(msg, "tokenizer_config.json: key 'do_lower_case'");
  write_file(dir.path() / "tokenizer_config.json", "[1, 2]");
  expect_one_line_naming(error_of([&] { WordPieceTokenizer::from_directory(dir.path()); }), "expected a JSON object");
}

TEST(TokenizerErrors, ConfigAcceptsHuggingFaceLayout) {
  TempDir dir;
  write_file(dir.path() / "vocab.txt", "<pad>\n<unk>\n<cls>\n<sep>\nhello\nHello\n");
  write_file(dir.path() / "tokenizer_config.json",
             R"({"do_lower_case": false, "strip_accents": null, "model_max_length": 1000000000000000019884624838656,
                 "unk_token": {"__type": "AddedToken", "content": "<unk>"}, "cls_token": "<cls>",
                 "sep_token": "<sep>", "pad_token": "<pad>", "mask_token": "<mask>",
                 "tokenizer_class": "BertTokenizer"})");
  const auto tok = WordPieceTokenizer::from_directory(dir.path());
  EXPECT_FALSE(tok.options().do_lower_case);
  EXPECT_FALSE(tok.options().strips_accents());
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.mask_id(), -1);
  EXPECT_EQ(tok.encode("Hello hello x").ids, (std::vector<std::int32_t>{2, 5, 4, 1, 3}));
}

TEST(TokenizerErrors, SaveWritesHuggingFaceLayoutThatLoadsBack) {
  TempDir dir;
  TokenizerOptions o;
  o.do_lower_case = false;
  o.model_max_length = 128;
  const WordPieceTokenizer tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "##s"}, o);
  tok.save(dir.path() / "model");
  EXPECT_EQ(testing::read_file(dir.path() / "model" / "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\n##s\n");
  const Json config = Json::parse(testing::read_file(dir.path() / "model" / "tokenizer_config.json"));
  EXPECT_EQ(config["tokenizer_class"], "BertTokenizer");
  EXPECT_EQ(config["do_lower_case"], false);
  EXPECT_TRUE(config["strip_accents"].is_null());
  const auto loaded = WordPieceTokenizer::from_directory(dir.path() / "model");
  EXPECT_EQ(loaded.vocab(), tok.vocab());
  EXPECT_EQ(loaded.options().model_max_length, 128u);
  EXPECT_EQ(loaded.encode("Hellos").ids, (std::vector<std::int32_t>{2, 5, 6, 3}));
}

TEST(TokenizerErrors, IdOutsideVocabulary) {
  const WordPieceTokenizer tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]"});
  EXPECT_THROW(tok.id_to_token(4), Error);
  EXPECT_THROW(tok.id_to_token(-1), Error);
}

}  // namespace
}  // namespace slimpipe::text
