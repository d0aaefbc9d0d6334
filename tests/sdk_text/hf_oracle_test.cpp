// Compares our ids with Hugging Face's tokenizer (npm @huggingface/tokenizers, run by
// hf_oracle.mjs) on SST-2 dev, CoNLL-2003 validation and SQuAD v1.1 dev question/context pairs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/params.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "text_test_support.hpp"

namespace slimpipe::text {
namespace {

namespace fs = std::filesystem;
using testing::shared_data;
using testing::TempDir;

struct Example {
  std::string source;  // which data set, for messages
  std::string first;
  std::string second;  // empty: single text
  bool pair = false;
};

std::vector<Example> sst2_dev(const fs::path& tsv) {
  std::vector<Example> out;
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);  // header: text \t label
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back({"sst2", line.substr(0, line.rfind('\t')), "", false});
  }
  return out;
}

// One sentence per blank-line-separated block; words are the first column.
std::vector<Example> conll_sentences(const fs::path& file) {
  std::vector<Example> out;
  std::ifstream in(file);
  std::string line, sentence;
  const auto flush = [&] {
    if (!sentence.empty()) out.push_back({"conll2003", sentence, "", false});
    sentence.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") {
      flush();
      continue;
    }
    const std::string word = line.substr(0, line.find(' '));
    if (!sentence.empty()) sentence += ' ';
    sentence += word;
  }
  flush();
  return out;
}

std::vector<Example> squad_pairs(const fs::path& zip, const fs::path& tmp) {
  const std::string cmd = "/usr/bin/python3 -m zipfile -e '" + zip.string() + "' '" + tmp.string() + "'";
  if (std::system(cmd.c_str()) != 0) return {};
  const Json squad = Json::parse(testing::read_file(tmp / "dev-v1.1.json"));
  std::vector<Example> out;
  for (const Json& article : squad["data"])
    for (const Json& paragraph : article["paragraphs"])
      for (const Json& qa : paragraph["qas"])
        out.push_back({"squad", qa["question"].get<std::string>(), paragraph["context"].get<std::string>(), true});
  return out;
}

std::string ids_text(const std::vector<std::int32_t>& ids) {
  std::ostringstream s;
  for (std::size_t i = 0; i < ids.size() && i < 40; ++i) s << (i ? " " : "") << ids[i];
  if (ids.size() > 40) s << " ...";
  return s.str();
}

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Number of code points in text[0, byte_end): its bytes that do not continue a UTF-8 sequence.
std::size_t code_points(const std::string& text, std::size_t byte_end) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte_end),
                                                [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Features of one SQuAD pair must be HF's doc-stride windows over the oracle's context ids,
// each behind the full question, and every ASCII token's offsets must spell the token.
int check_windows(const WordPieceTokenizer& tok, const Example& ex, const std::vector<std::int32_t>& oracle,
                  const std::vector<Encoding>& features, std::size_t max_length, std::size_t stride) {
  const auto first_sep = std::find(oracle.begin(), oracle.end(), tok.sep_id());
  const std::vector<std::int32_t> question(oracle.begin() + 1, first_sep);
  const std::vector<std::int32_t> context(first_sep + 1, oracle.end() - 1);
  const std::size_t budget = max_length - 3 - question.size();
  int bad = 0;
  std::size_t start = 0;
  for (std::size_t k = 0; k < features.size(); ++k, start += budget - stride) {
    const std::size_t end = std::min(start + budget, context.size());
    std::vector<std::int32_t> expected{tok.cls_id()};
    expected.insert(expected.end(), question.begin(), question.end());
    expected.push_back(tok.sep_id());
    expected.insert(expected.end(), context.begin() + static_cast<std::ptrdiff_t>(start),
                    context.begin() + static_cast<std::ptrdiff_t>(end));
    expected.push_back(tok.sep_id());
    if (features[k].ids != expected) ++bad;
    if ((k + 1 == features.size()) != (end == context.size())) ++bad;  // last window ends the text
    for (std::size_t t = 0; t < features[k].size(); ++t) {
      const std::int8_t seq = features[k].sequence_ids[t];
      if (seq < 0 || features[k].ids[t] == tok.unk_id()) continue;
      const std::string& text = seq == 0 ? ex.first : ex.second;
      const Span b = features[k].byte_offsets[t];
      std::string piece = text.substr(b.begin, b.end - b.begin);
      if (!is_ascii(piece)) continue;
      std::transform(piece.begin(), piece.end(), piece.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string token = tok.id_to_token(features[k].ids[t]);
      if (token.rfind("##", 0) == 0) token = token.substr(2);
      const Span chars{code_points(text, b.begin), code_points(text, b.end)};
      if (piece != token || features[k].offsets[t] != chars) ++bad;
    }
  }
  return bad;
}

TEST(TokenizerOracle, IdsMatchHuggingFaceOnSst2ConllSquad) {
  const fs::path data = shared_data();
  const fs::path vocab_dir = data / "vocab" / "bert-base-uncased";
  const fs::path module =
      fs::path(SLIMPIPE_SOURCE_DIR) / "scripts/npm/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs";
  const fs::path script = fs::path(SLIMPIPE_SOURCE_DIR) / "tests/sdk_text/hf_oracle.mjs";
  if (!fs::exists(vocab_dir / "tokenizer.json") || !fs::exists(data / "sst2" / "dev.tsv"))
    GTEST_SKIP() << "shared data absent: " << data.string();
  if (!testing::have_program("node")) GTEST_SKIP() << "node is not installed";
  if (!fs::exists(module)) GTEST_SKIP() << "npm package absent: " << module.string();

  TempDir tmp;
  // The oracle reads tokenizer.json plus a tokenizer_config.json from a local model dir.
  const fs::path model = tmp.path() / "bert-base-uncased";
  fs::create_directories(model);
  fs::copy_file(vocab_dir / "tokenizer.json", model / "tokenizer.json");
  testing::write_file(model / "tokenizer_config.json",
                      R"({"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": 512})");

  std::vector<Example> examples = sst2_dev(data / "sst2" / "dev.tsv");
  for (Example& e : conll_sentences(data / "conll2003" / "eng.testa")) examples.push_back(std::move(e));
  const std::size_t squad_begin = examples.size();
  for (Example& e : squad_pairs(data / "squad_v1.1" / "dev-v1.1.json.zip", tmp.path()))
    examples.push_back(std::move(e));
  ASSERT_GT(examples.size(), squad_begin) << "SQuAD dev could not be unzipped";

  {
    std::ofstream in(tmp.path() / "inputs.jsonl", std::ios::binary);
    for (const Example& e : examples) {
      Json j{{"a", e.first}};
      if (e.pair) j["b"] = e.second;
      in << j.dump() << '\n';
    }
  }
  const std::string cmd = "node '" + script.string() + "' '" + module.string() + "' '" + model.string() + "' '" +
                          (tmp.path() / "inputs.jsonl").string() + "' '" + (tmp.path() / "outputs.jsonl").string() +
                          "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const auto tok = WordPieceTokenizer::from_files(vocab_dir / "vocab.txt");
  std::ifstream out(tmp.path() / "outputs.jsonl");
  std::string line;
  std::size_t compared = 0, mismatches = 0, windows = 0, window_errors = 0, squad_features = 0;
  EncodeOptions doc_stride;
  doc_stride.truncation = Truncation::OnlySecond;
  doc_stride.max_length = 384;
  doc_stride.stride = 128;
  doc_stride.return_overflowing_tokens = true;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    ASSERT_TRUE(std::getline(out, line)) << "oracle output ends at line " << i;
    const Json j = Json::parse(line);
    const auto expected = j["ids"].get<std::vector<std::int32_t>>();
    const auto expected_types = j["type_ids"].get<std::vector<std::int32_t>>();
    const Example& ex = examples[i];
    const Encoding ours = ex.pair ? tok.encode_pair(ex.first, ex.second) : tok.encode(ex.first);
    ++compared;
    if (ours.ids != expected || ours.token_type_ids != expected_types) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << ex.source << " #" << i << ": " << ex.first << "\n  ours: " << ids_text(ours.ids)
                      << "\n  HF:   " << ids_text(expected);
      }
      continue;
    }
    if (ex.pair) {
      const Encoding first = tok.encode_pair(ex.first, ex.second, doc_stride);
      std::vector<Encoding> features{first};
      features.insert(features.end(), first.overflowing.begin(), first.overflowing.end());
      squad_features += features.size();
      const int bad = check_windows(tok, ex, expected, features, 384, 128);
      windows += features.size();
      if (bad && ++window_errors <= 5) ADD_FAILURE() << "squad #" << i << ": " << bad << " window/offset errors";
    }
  }
  std::cout << "[ oracle ] " << compared << " texts compared (" << squad_begin << " SST-2/CoNLL sentences, "
            << compared - squad_begin << " SQuAD pairs), " << mismatches << " id mismatches; " << squad_features
            << " SQuAD features (max_length 384, stride 128), " << window_errors << " examples with window errors\n";
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(window_errors, 0u);
  EXPECT_GT(windows, compared - squad_begin);  // some contexts really overflow
}

}  // namespace
}  // namespace slimpipe::text
