// Runtime tests that need no LibTorch (built by the runtime-only configuration too): models written by
// tiny_model.cpp, the text library's tokenizer feeding the runtime.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "one_line_error.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/runtime.hpp"
#include "tiny_model.hpp"

namespace {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;
using namespace rt::testing;  // TinyModel, write_tiny_model, scratch_dir
using Json = nlohmann::json;

std::vector<std::string> tiny_vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",      "great", "movie", "bad",
                                "plot",  "the",   "was",   "##s",   "un",     "##like", ",",     "."};
  while (v.size() < 40) v.push_back("[unused" + std::to_string(v.size()) + "]");
  return v;
}

TEST(RuntimeTorchFree, TinyModelLoadsAndRunsDeterministically) {
  const fs::path dir = scratch_dir("tiny_runs");
  write_tiny_model(dir);
  auto model = rt::Model::load(dir);
  EXPECT_EQ(model.info().head, rt::Head::SequenceClassification);
  EXPECT_EQ(model.info().num_labels, 3);
  const std::vector<std::int64_t> ids = {2, 5, 6, 7, 3, 2, 8, 9, 3, 0}, types(10, 0),
                                  mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  const auto& out = model.run(ids, types, mask, 2, 5);
  ASSERT_EQ(out.logits_size(), 6);
  const std::vector<float> first(out.logits, out.logits + 6);
  for (float v : first) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NE(first[0], first[3]);  // two different sequences
  const auto& again = model.run(ids, types, mask, 2, 5);
  EXPECT_EQ(std::vector<float>(again.logits, again.logits + 6), first);
}

TEST(RuntimeTorchFree, TokenizerOfTheTextLibraryFeedsTheRuntime) {
  const fs::path dir = scratch_dir("tiny_tokens");
  write_tiny_model(dir);
  const slimpipe::text::WordPieceTokenizer tokenizer(tiny_vocab());
  tokenizer.save(dir);
  const auto loaded = slimpipe::text::WordPieceTokenizer::from_directory(dir);
  const auto enc = loaded.encode("The movie was unlike a great plot.");
  const std::vector<std::int32_t> expected = {2, 10, 7, 11, 13, 14, 5, 6, 9, 16, 3};
  EXPECT_EQ(enc.ids, expected);
  auto model = rt::Model::load(dir);
  const std::vector<std::int64_t> ids(enc.ids.begin(), enc.ids.end());
  const auto& out = model.run(ids, {}, {}, 1, static_cast<std::int64_t>(ids.size()));
  EXPECT_TRUE(std::isfinite(out.logits[0]));
}

TEST(RuntimeTorchFree, TextLibraryErrorsAreSlimpipeErrors) {
  const fs::path dir = scratch_dir("tiny_bad_vocab");
  try {
    (void)slimpipe::text::WordPieceTokenizer::from_directory(dir);
    FAIL() << "expected an error";
  } catch (const slimpipe::Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "vocab.txt").string()), std::string::npos) << e.what();
  }
}

// A package written by hand, as docs/runtime.md describes it: the tiny model, its tokenizer, package.json.
Json write_tiny_package(const fs::path& dir, const TinyModel& m = {}) {
  rt::testing::TinyPackage p;
  p.vocab = tiny_vocab();
  return rt::testing::write_tiny_package(dir, m, p);
}

std::string load_error(const fs::path& dir) {
  try {
    (void)rt::Model::load(dir);
  } catch (const rt::Error& e) {
    return e.what();
  }
  return "(no error)";
}

using rt::testing::expect_one_line;

TEST(RuntimePackage, Sha1IsWhatSha1sumPrints) {
  slimpipe::Hasher h;
  h.update("abc", 3);
  EXPECT_EQ(h.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(RuntimePackage, LoadsWithItsTaskLabelsLengthsAndTokenizer) {
  const fs::path dir = scratch_dir("pkg_ok");
  write_tiny_package(dir);
  auto model = rt::Model::load(dir);
  const rt::PackageInfo* p = model.package();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->version, 1);
  EXPECT_EQ(p->task, "seq_cls");
  EXPECT_EQ(p->labels, (std::vector<std::string>{"label0", "label1", "label2"}));
  EXPECT_EQ(p->max_seq_length, 32);
  ASSERT_TRUE(p->has_tokenizer);
  EXPECT_EQ(p->vocab_file, dir / "vocab.txt");
  EXPECT_EQ(p->files.size(), 4u);
  const auto tok = slimpipe::text::WordPieceTokenizer::from_files(p->vocab_file, p->tokenizer_config_file);
  EXPECT_EQ(tok.vocab_size(), 40u);

  const fs::path qa = scratch_dir("pkg_qa");
  TinyModel m;
  m.head = "qa";
  write_tiny_package(qa, m);
  const auto info = rt::read_package(qa);
  EXPECT_EQ(info.doc_stride, 8);
  EXPECT_EQ(info.max_query_length, 6);
  EXPECT_TRUE(info.labels.empty());
  const fs::path bare = scratch_dir("pkg_bare");
  write_tiny_model(bare);  // a runtime export without package.json still loads, as a model alone
  EXPECT_EQ(rt::Model::load(bare).package(), nullptr);
}

TEST(RuntimePackage, DamagedFilesAreOneLineErrorsNamingTheFile) {
  const fs::path dir = scratch_dir("pkg_damaged");
  write_tiny_package(dir);
  // A byte of weights.bin changed, size kept.
  std::string w = rt::testing::read_bytes(dir / "weights.bin");
  w[w.size() / 2] = static_cast<char>(w[w.size() / 2] ^ 0x40);
  rt::testing::write_bytes(dir / "weights.bin", w);
  const std::string damaged = load_error(dir);
  expect_one_line(damaged, (dir / "weights.bin").string() + ": SHA-1 ");
  expect_one_line(damaged, "damaged or was changed after export");
  rt::Options skip;
  skip.verify_package = false;
  EXPECT_NO_THROW((void)rt::Model::load(dir, skip));

  write_tiny_package(dir);
  std::string v = rt::testing::read_bytes(dir / "vocab.txt");
  rt::testing::write_bytes(dir / "vocab.txt", v.substr(0, v.size() - 10));
  expect_one_line(load_error(dir), (dir / "vocab.txt").string() + ": " + std::to_string(v.size() - 10) +
                                       " bytes, package.json records " + std::to_string(v.size()));

  write_tiny_package(dir);
  fs::remove(dir / "tokenizer_config.json");
  expect_one_line(load_error(dir), (dir / "tokenizer_config.json").string() + ": missing (package.json lists it)");
}

TEST(RuntimePackage, VersionAndFieldsAreChecked) {
  const fs::path dir = scratch_dir("pkg_fields");
  auto rewrite = [&](const std::function<void(Json&)>& edit) {
    Json j = write_tiny_package(dir);
    edit(j);
    rt::testing::write_bytes(dir / "package.json", j.dump());
    return load_error(dir);
  };
  const std::string where = (dir / "package.json").string();
  expect_one_line(rewrite([](Json& j) { j["version"] = 2; }),
                  where + ": package format version 2, this runtime reads version 1");
  expect_one_line(rewrite([](Json& j) { j["format"] = "other"; }), where + ": not a slimpipe runtime package");
  expect_one_line(rewrite([](Json& j) { j["task"] = "token_cls"; }),
                  where + ": task token_cls, but runtime.json's head is seq_cls");
  expect_one_line(rewrite([](Json& j) {
                    j["labels"] = {"a", "b"};
                  }),
                  where + ": 2 labels, runtime.json has num_labels 3");
  expect_one_line(rewrite([](Json& j) { j["max_seq_length"] = 65; }),
                  where + ": max_seq_length 65 exceeds runtime.json's max_position_embeddings 64");
  expect_one_line(rewrite([](Json& j) { j["max_seq_length"] = 0; }),
                  where + ": key 'max_seq_length' is 0, expected >= 1");
  expect_one_line(rewrite([](Json& j) { j["files"][0]["path"] = "../runtime.json"; }),
                  where + ": file path '../runtime.json' is not a plain file name inside the package");
  expect_one_line(rewrite([](Json& j) { j["files"].erase(1); }), where + ": 'files' does not list weights.bin");
  expect_one_line(rewrite([](Json& j) { j["files"][1].erase("sha1"); }), where + ": the entry of weights.bin needs");
  rt::testing::write_bytes(dir / "package.json", "{\"format\": ");
  expect_one_line(load_error(dir), where + ": not valid JSON");
}

TEST(RuntimeClassifier, PredictsLabelsAndScoresFromText) {
  const fs::path dir = scratch_dir("clf_ok");
  write_tiny_package(dir);
  auto clf = rt::Classifier::load(dir);
  const std::vector<std::string> texts = {"The movie was great.", "bad plot", "a great, great movie , unlike the plot"};
  const auto preds = clf.predict(texts, 2);  // two runs: a batch of 2 padded to its longest, then 1
  ASSERT_EQ(preds.size(), 3u);
  auto model = rt::Model::load(dir);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& p = preds[i];
    ASSERT_EQ(p.scores.size(), 3u);
    EXPECT_NEAR(p.scores[0] + p.scores[1] + p.scores[2], 1.0f, 1e-5f);
    EXPECT_EQ(p.label, "label" + std::to_string(p.label_id));
    EXPECT_EQ(p.score, *std::max_element(p.scores.begin(), p.scores.end()));
    // The same ids through the model alone, unpadded: the same logits.
    const auto enc = clf.encode(texts[i]);
    EXPECT_EQ(enc.ids.front(), 2);  // [CLS]
    EXPECT_EQ(enc.ids.back(), 3);   // [SEP]
    const std::vector<std::int64_t> ids(enc.ids.begin(), enc.ids.end());
    const auto& out = model.run(ids, {}, {}, 1, static_cast<std::int64_t>(ids.size()));
    for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(p.logits[j], out.logits[j], 1e-5f) << texts[i];
  }
  // Truncated to the package's max_seq_length (32), as the seq_cls task truncates.
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "movie ";
  EXPECT_EQ(clf.encode(long_text).ids.size(), 32u);
  EXPECT_EQ(clf.predict({long_text}).size(), 1u);
  const auto pair = clf.encode_pair("great movie", "bad plot");
  EXPECT_EQ(pair.token_type_ids, (std::vector<std::int32_t>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(clf.predict_pairs({"great movie"}, {"bad plot"}).size(), 1u);
  EXPECT_TRUE(clf.predict({}).empty());
}

TEST(RuntimeClassifier, RefusesWhatItCannotRun) {
  const fs::path bare = scratch_dir("clf_bare");
  write_tiny_model(bare);
  auto error_of = [](const fs::path& dir) {
    try {
      (void)rt::Classifier::load(dir);
    } catch (const rt::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  expect_one_line(error_of(bare),
                  (bare / "package.json").string() + ": not found (a Classifier needs a runtime package");
  const fs::path qa = scratch_dir("clf_qa");
  TinyModel m;
  m.head = "qa";
  write_tiny_package(qa, m);
  expect_one_line(error_of(qa), (qa / "package.json").string() + ": task qa, a Classifier runs seq_cls packages");
  const fs::path ok = scratch_dir("clf_pairs");
  write_tiny_package(ok);
  auto clf = rt::Classifier::load(ok);
  try {
    (void)clf.predict_pairs({"a"}, {});
    FAIL();
  } catch (const rt::Error& e) {
    expect_one_line(e.what(), "predict_pairs: 1 first texts but 0 second texts");
  }
  try {
    (void)clf.predict({"a"}, 0);
    FAIL();
  } catch (const rt::Error& e) {
    expect_one_line(e.what(), "predict: batch_size must be >= 1, got 0");
  }
}

}  // namespace
