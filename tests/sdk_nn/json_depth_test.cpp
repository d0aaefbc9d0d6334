// JSON nested far deeper than any config needs is refused with one line naming the file, before nlohmann builds
// it: config.json 100 000 levels deep used to end the process with SIGSEGV.
#include <gtest/gtest.h>

#include <fstream>

#include "nn_test_support.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/json_file.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe {
namespace {

using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonDepth, CountsBracketsOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("1"), 0u);
  EXPECT_EQ(json_nesting_depth("[1]"), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": []}]})"), 4u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{", "b": "\"[[[", "c\\": [1]})"), 2u);
  EXPECT_EQ(json_nesting_depth(nested(300)), 300u);
  EXPECT_EQ(json_nesting_depth(nested(100000), 256), 257u);  // stops as soon as the limit is passed
}

TEST(JsonDepth, ParseJsonTextAcceptsTheLimitAndRefusesOneMore) {
  EXPECT_EQ(parse_json_text(nested(256), "x.json").dump().size(), 512u);
  try {
    parse_json_text(nested(257), "x.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "x.json: JSON nested deeper than 256 levels");
  }
}

TEST(JsonDepth, DeepConfigJsonIsAnErrorNamingTheFile) {
  const fs::path dir = scratch_dir();
  io::save_model(dir, *random_model(tiny_config(), nn::TaskHead::SequenceClassification));
  std::ofstream(dir / "config.json") << "{\"hidden_size\": " << nested(100000) << "}";
  expect_error([&] { io::load_model(dir); }, {(dir / "config.json").string() + ": JSON nested deeper than 256 levels"});
  expect_error([&] { parse_json_file(dir / "absent.json"); }, {(dir / "absent.json").string() + ": file not found"});
}

TEST(JsonDepth, DeepTokenizerConfigIsAnErrorNamingTheFile) {
  const fs::path dir = scratch_dir();
  std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n";
  std::ofstream(dir / "tokenizer_config.json") << "{\"do_lower_case\": " << std::string(100000, '{');
  expect_error([&] { text::WordPieceTokenizer::from_directory(dir); },
               {(dir / "tokenizer_config.json").string() + ": JSON nested deeper than 256 levels"});
}

TEST(JsonDepth, DeepSafetensorsHeaderIsAnErrorNamingTheFile) {
  const fs::path file = scratch_dir() / "model.safetensors";
  const std::string header = "{\"__metadata__\": " + nested(100000) + "}";
  std::ofstream out(file, std::ios::binary);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header;
  out.close();
  expect_error([&] { io::read_safetensors(file); },
               {file.string() + ": bad header: JSON nested deeper than 256 levels"});
}

}  // namespace
}  // namespace slimpipe
