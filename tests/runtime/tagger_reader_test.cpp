// Tagger and Reader without LibTorch (built by the runtime-only configuration too): hand-written packages with
// random weights, so the tags and spans are arbitrary; what is checked is what must hold whatever the weights:
// words and offsets (accents, CJK, punctuation, invalid UTF-8), entities equal to the chunks of the word tags,
// truncation past max_seq_length, QA windows decoded as the model gives their logits one by one, batching, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "one_line_error.hpp"
#include "slimpipe/metrics/chunk.hpp"
#include "slimpipe/tasks/qa_spans.hpp"
#include "slimpipe/text/words.hpp"
#include "slimpipe_runtime/reader.hpp"
#include "slimpipe_runtime/tagger.hpp"
#include "tiny_model.hpp"

namespace {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;
namespace text = slimpipe::text;
using rt::testing::scratch_dir;
using rt::testing::TinyModel;
using rt::testing::TinyPackage;

const std::vector<std::string> kTags = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};

std::vector<std::string> vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "angela", "merkel", "visited",
                                "paris", "cafe",  "the",   "in",    "berlin", ",",      ".",      "(",
                                ")",     "'",     "s",     "##s",   "北",     "京",     "市",     "new",
                                "york",  "jose",  "!",     "-",     "naive",  "ish",    "where",  "is",
                                "it",    "who",   "went",  "to",    "and",    "then"};
  while (v.size() < 60) v.push_back("[unused" + std::to_string(v.size()) + "]");
  return v;
}

fs::path tagger_package(const std::string& name, std::int64_t max_seq_length = 32) {
  const fs::path dir = scratch_dir(name);
  TinyModel m;
  m.head = "token_cls";
  m.vocab_size = 60;
  m.num_labels = static_cast<std::int64_t>(kTags.size());
  m.seed = 11;
  TinyPackage p;
  p.vocab = vocab();
  p.labels = kTags;
  p.max_seq_length = max_seq_length;
  rt::testing::write_tiny_package(dir, m, p);
  return dir;
}

// max_seq_length 24, doc_stride 6, max_query_length 5 unless given.
fs::path reader_package(const std::string& name, std::int64_t max_seq_length = 24, std::int64_t doc_stride = 6,
                        std::int64_t max_query_length = 5) {
  const fs::path dir = scratch_dir(name);
  TinyModel m;
  m.head = "qa";
  m.vocab_size = 60;
  m.num_labels = 2;
  m.seed = 5;
  TinyPackage p;
  p.vocab = vocab();
  p.max_seq_length = max_seq_length;
  p.doc_stride = doc_stride;
  p.max_query_length = max_query_length;
  rt::testing::write_tiny_package(dir, m, p);
  return dir;
}

// Code points of the UTF-8 bytes text[0, byte) as the tokenizer counts them (an invalid byte is one).
std::size_t chars_before(const std::string& t, std::size_t byte) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < byte; ++i) n += (static_cast<unsigned char>(t[i]) & 0xC0) != 0x80;
  return n;
}

using rt::testing::error_of;
using rt::testing::expect_one_line;

TEST(TextWords, SplitsAtUnicodeWhitespaceWithByteAndCodePointOffsets) {
  // é (2 bytes), NBSP (U+00A0, White_Space), 北京 (3 bytes each), an ideographic space (U+3000), a tab.
  const std::string t = " Café\xC2\xA0(Paris)  北京\xE3\x80\x80naïve-ish!\t";
  const auto words = text::split_whitespace(t);
  ASSERT_EQ(words.size(), 4u);
  const std::vector<std::string> expected = {"Café", "(Paris)", "北京", "naïve-ish!"};
  const std::vector<std::size_t> char_begins = {1, 6, 15, 18};
  for (std::size_t i = 0; i < words.size(); ++i) {
    EXPECT_EQ(t.substr(words[i].bytes.begin, words[i].bytes.end - words[i].bytes.begin), expected[i]);
    EXPECT_EQ(words[i].chars.begin, char_begins[i]) << expected[i];
    EXPECT_EQ(words[i].chars.begin, chars_before(t, words[i].bytes.begin));
    EXPECT_EQ(words[i].chars.end, chars_before(t, words[i].bytes.end));
  }
  EXPECT_TRUE(text::split_whitespace("").empty());
  EXPECT_TRUE(text::split_whitespace(" \t\n\xE3\x80\x80").empty());
  // An invalid byte is a character of a word (U+FFFD, one code point), as the tokenizer counts it.
  const auto bad = text::split_whitespace("a\xFF b");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].bytes.end, 2u);
  EXPECT_EQ(bad[1].chars.begin, 3u);
}

// Whatever the weights: words are the text's whitespace words, each tagged at its first token; entities are the
// chunks of the tagged words' tags with offsets that cut the entity's words out of the text, and mean scores.
void expect_consistent(const std::string& t, const rt::Tagging& g, const rt::Tagger& tagger) {
  const auto words = text::split_whitespace(t);
  ASSERT_EQ(g.words.size(), words.size()) << t;
  std::vector<std::string> tags;
  std::vector<std::size_t> tagged;
  for (std::size_t w = 0; w < words.size(); ++w) {
    EXPECT_EQ(g.words[w].bytes, words[w].bytes);
    EXPECT_EQ(g.words[w].chars, words[w].chars);
    if (g.words[w].label_id < 0) continue;
    EXPECT_EQ(g.words[w].label, kTags[static_cast<std::size_t>(g.words[w].label_id)]);
    EXPECT_GT(g.words[w].score, 0.0f);
    EXPECT_LE(g.words[w].score, 1.0f);
    tags.push_back(g.words[w].label);
    tagged.push_back(w);
  }
  const auto chunks = slimpipe::metrics::extract_chunks(tags);
  ASSERT_EQ(g.entities.size(), chunks.size()) << t;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const rt::Entity& e = g.entities[i];
    EXPECT_EQ(e.type, chunks[i].type);
    EXPECT_EQ(e.first_word, tagged[chunks[i].begin]);
    EXPECT_EQ(e.end_word, tagged[chunks[i].end - 1] + 1);
    EXPECT_EQ(e.text, t.substr(e.byte_start, e.byte_end - e.byte_start));
    EXPECT_EQ(e.start, chars_before(t, e.byte_start));
    EXPECT_EQ(e.end, chars_before(t, e.byte_end));
    // Whole words: these texts have no characters the tokenizer drops, and no word is cut by truncation.
    EXPECT_EQ(e.byte_start, words[e.first_word].bytes.begin) << e.text;
    if (!g.truncated) {
      EXPECT_EQ(e.byte_end, words[e.end_word - 1].bytes.end) << e.text;
    }
    double mean = 0;
    for (std::size_t k = chunks[i].begin; k < chunks[i].end; ++k) mean += g.words[tagged[k]].score;
    EXPECT_NEAR(e.score, mean / static_cast<double>(chunks[i].end - chunks[i].begin), 1e-6);
  }
  (void)tagger;
}

TEST(RuntimeTagger, EntitiesAreTheChunksOfTheWordTagsWithOffsetsIntoTheText) {
  auto tagger = rt::Tagger::load(tagger_package("tagger_ok"));
  const std::vector<std::string> texts = {
      "Angela Merkel visited Paris .",
      "Café (Paris) 北京 naïve-ish!",
      "  JOSÉ   went to New York ,  then Berlin's cafe  ",
      "北京市 and 北京 , the Paris cafe in New York",
      "",
      "\t \n",
      "who went (to) paris-berlin ! angela merkel ' s cafe",
  };
  const auto out = tagger.predict(texts, 3);
  ASSERT_EQ(out.size(), texts.size());
  std::size_t entities = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    expect_consistent(texts[i], out[i], tagger);
    EXPECT_FALSE(out[i].truncated);
    entities += out[i].entities.size();
    // Every word of these texts has a token, so every word is tagged.
    for (const auto& w : out[i].words) EXPECT_GE(w.label_id, 0) << texts[i];
  }
  EXPECT_GT(entities, 3u);  // the random model tags something
  // Batching and padding change nothing: one by one gives the same tags and entities.
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto one = tagger.predict({texts[i]}, 1).front();
    ASSERT_EQ(one.entities.size(), out[i].entities.size());
    for (std::size_t k = 0; k < one.entities.size(); ++k) {
      EXPECT_EQ(one.entities[k].byte_start, out[i].entities[k].byte_start);
      EXPECT_EQ(one.entities[k].type, out[i].entities[k].type);
      EXPECT_NEAR(one.entities[k].score, out[i].entities[k].score, 1e-5);
    }
  }
  // Accents stripped and lower-cased, CJK characters and punctuation split: "北京" is two tokens, "(Paris)" three,
  // each word still tagged once (expect_consistent checks that entities cover whole words).
  const auto enc = tagger.encode(texts[1]);
  EXPECT_EQ(enc.ids.size(), 12u);  // [CLS] cafe ( paris ) 北 京 naive - ish ! [SEP]
}

TEST(RuntimeTagger, TextsLongerThanMaxSeqLengthAreTruncatedAsTheTaskTruncates) {
  auto tagger = rt::Tagger::load(tagger_package("tagger_long", 16));
  std::string t;
  for (int i = 0; i < 12; ++i) t += (i % 2 ? "Merkel's " : "Paris ");  // 1 + 3 tokens a pair of words
  const auto enc = tagger.encode(t);
  EXPECT_EQ(enc.ids.size(), 16u);
  const auto g = tagger.predict({t}).front();
  EXPECT_TRUE(g.truncated);
  expect_consistent(t, g, tagger);
  // 14 tokens hold 7 whole words and the first token of the 8th: 8 words tagged, the other 4 not.
  std::size_t tagged = 0;
  for (const auto& w : g.words) tagged += w.label_id >= 0;
  EXPECT_EQ(tagged, 8u);
  EXPECT_GE(g.words[7].label_id, 0);
  EXPECT_LT(g.words[8].label_id, 0);
  for (const auto& e : g.entities) EXPECT_LE(e.end_word, 8u);
  EXPECT_FALSE(tagger.predict({"Paris"}).front().truncated);
}

TEST(RuntimeTagger, RefusesWhatItCannotRun) {
  const fs::path dir = tagger_package("tagger_errors");
  auto tagger = rt::Tagger::load(dir);
  expect_one_line(error_of([&] { (void)tagger.predict({"a"}, 0); }), "predict: batch_size must be >= 1, got 0");
  EXPECT_TRUE(tagger.predict({}).empty());
  // Control characters, invalid UTF-8, a word of dropped characters only: no crash, offsets stay in the text.
  const std::string odd = "Paris\x01 \x02\x03 \xFF\xFE merkel \xE4\xB8";
  const auto g = tagger.predict({odd}).front();
  ASSERT_EQ(g.words.size(), 5u);
  EXPECT_GE(g.words[0].label_id, 0);
  EXPECT_LT(g.words[1].label_id, 0);  // control characters and invalid bytes: nothing the tokenizer keeps
  EXPECT_LT(g.words[2].label_id, 0);
  EXPECT_GE(g.words[3].label_id, 0);
  EXPECT_LT(g.words[4].label_id, 0);
  for (const auto& e : g.entities) EXPECT_LE(e.byte_end, odd.size());

  const fs::path clf = scratch_dir("tagger_seq_cls");
  TinyPackage p;
  p.vocab = vocab();
  TinyModel m;
  m.vocab_size = 60;
  rt::testing::write_tiny_package(clf, m, p);
  expect_one_line(error_of([&] { (void)rt::Tagger::load(clf); }),
                  (clf / "package.json").string() + ": task seq_cls, a Tagger runs token_cls packages");
  // Tag names that are not BIO(ES) tags cannot be chunked.
  const fs::path plain = scratch_dir("tagger_plain_labels");
  m.head = "token_cls";
  rt::testing::write_tiny_package(plain, m, p);
  expect_one_line(error_of([&] { (void)rt::Tagger::load(plain); }),
                  (plain / "package.json").string() + ": tag 'label0': invalid tag 'label0'");
  rt::TaggerOptions strict;
  strict.chunk_mode = slimpipe::metrics::ChunkMode::StrictIob2;
  EXPECT_NO_THROW((void)rt::Tagger::load(dir, {}, strict));
}

// package.json's decoding keys (what the pipeline's [task] used) are the defaults; explicit options override them.
void edit_package_json(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(rt::testing::read_bytes(dir / "package.json"));
  edit(j);
  rt::testing::write_bytes(dir / "package.json", j.dump());
}

std::vector<std::tuple<std::string, std::size_t, std::size_t>> entities(rt::Tagger& tagger,
                                                                        const std::vector<std::string>& texts) {
  std::vector<std::tuple<std::string, std::size_t, std::size_t>> out;
  for (const auto& t : tagger.predict(texts))
    for (const auto& e : t.entities) out.emplace_back(e.type, e.byte_start, e.byte_end);
  return out;
}

TEST(RuntimeTagger, PackageChunkingIsTheDefault) {
  const std::vector<std::string> texts = {"Angela Merkel visited Paris .", "New York , Berlin", "merkel paris york"};
  const fs::path dir = tagger_package("tagger_pkg_strict");
  rt::TaggerOptions strict, lenient;
  strict.chunk_mode = slimpipe::metrics::ChunkMode::StrictIob2;
  lenient.chunk_mode = slimpipe::metrics::ChunkMode::Lenient;
  auto plain_strict = rt::Tagger::load(dir, {}, strict);
  auto plain_lenient = rt::Tagger::load(dir, {}, lenient);
  auto plain = rt::Tagger::load(dir);
  EXPECT_EQ(entities(plain, texts), entities(plain_lenient, texts));  // no keys: lenient, the task's default
  EXPECT_FALSE(plain.package().strict);
  edit_package_json(dir, [](nlohmann::json& j) {
    j["strict"] = true;
    j["scheme"] = "bio";
  });
  auto recorded = rt::Tagger::load(dir);
  EXPECT_TRUE(recorded.package().strict);
  EXPECT_EQ(entities(recorded, texts), entities(plain_strict, texts));
  auto overridden = rt::Tagger::load(dir, {}, lenient);
  EXPECT_EQ(entities(overridden, texts), entities(plain_lenient, texts));
  const std::string where = (dir / "package.json").string();
  edit_package_json(dir, [](nlohmann::json& j) { j["scheme"] = "iob1"; });
  expect_one_line(error_of([&] { (void)rt::Tagger::load(dir); }), where + ": scheme 'iob1', expected bio or bioes");
  edit_package_json(dir, [](nlohmann::json& j) { j["strict"] = "yes"; });
  expect_one_line(error_of([&] { (void)rt::Tagger::load(dir); }), where + ": key 'strict' missing or not a boolean");
}

TEST(RuntimeTagger, ThreadsTakeTurnsOnOneTagger) {
  auto tagger = rt::Tagger::load(tagger_package("tagger_threads"));
  const std::vector<std::string> texts = {"Angela Merkel visited Paris .", "北京 cafe", "New York , Berlin"};
  const auto expected = tagger.predict(texts);
  std::vector<std::thread> threads;
  std::vector<int> same(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      bool ok = true;
      for (int rep = 0; rep < 5; ++rep) {
        const auto got = tagger.predict(texts, 1 + k % 2);
        for (std::size_t i = 0; i < texts.size(); ++i) ok = ok && got[i].entities.size() == expected[i].entities.size();
      }
      same[static_cast<std::size_t>(k)] = ok;
    });
  for (auto& t : threads) t.join();
  for (int ok : same) EXPECT_TRUE(ok);
}

// The Reader's answer equals the span search over its windows with each window's logits from the model alone
// (unpadded, one at a time); offsets cut the answer out of the context.
TEST(RuntimeReader, AnswersAreTheBestSpanOverTheWindows) {
  const fs::path dir = reader_package("reader_ok");
  auto reader = rt::Reader::load(dir);
  auto model = rt::Model::load(dir);
  const std::vector<rt::QaInput> inputs = {
      {"Where is it?", "Angela Merkel visited Paris ."},
      {"who went to the cafe in New York and then to Berlin?",  // longer than max_query_length: cut to 5 tokens
       "Angela Merkel went to Paris , then to the Café (Paris) in 北京市 , then to New York and then to Berlin's "
       "cafe . Then José went to the naïve-ish cafe in Paris !"},
      {"Where?", "北京 北京市 北京 , Paris"},
      {"Where is it?", ""},
  };
  const auto answers = reader.answer(inputs, 3);
  ASSERT_EQ(answers.size(), inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string& c = inputs[i].context;
    const auto windows = reader.windows(inputs[i].question, c);
    ASSERT_FALSE(windows.empty());
    if (i == 1) {
      EXPECT_GT(windows.size(), 2u);  // doc_stride windows over the long context
    }
    slimpipe::tasks::QaAnswerDecoder decoder;
    for (std::size_t w = 0; w < windows.size(); ++w) {
      const auto& e = windows[w].encoding;
      EXPECT_LE(e.ids.size(), 24u);
      std::size_t question_tokens = 0;
      for (auto s : e.sequence_ids) question_tokens += s == 0;
      EXPECT_LE(question_tokens, 5u);
      const std::vector<std::int64_t> ids(e.ids.begin(), e.ids.end()),
          types(e.token_type_ids.begin(), e.token_type_ids.end());
      const auto& o = model.run(ids, types, {}, 1, static_cast<std::int64_t>(ids.size()));
      decoder.add_window(windows[w], static_cast<std::int64_t>(w), o.start_logits, o.end_logits);
    }
    const auto best = decoder.best(c);
    const rt::Answer& a = answers[i];
    ASSERT_EQ(a.found(), best.found()) << c;
    if (!a.found()) {
      EXPECT_EQ(a.text, "");
      EXPECT_EQ(a.score, 0.0f);
      continue;
    }
    EXPECT_EQ(a.text, best.text);
    EXPECT_EQ(a.window, best.feature);
    EXPECT_NEAR(a.logit_score, best.score, 1e-4);
    EXPECT_EQ(a.text, c.substr(a.byte_start, a.byte_end - a.byte_start));
    EXPECT_EQ(a.start, chars_before(c, a.byte_start));
    EXPECT_EQ(a.end, chars_before(c, a.byte_end));
    EXPECT_GT(a.score, 0.0f);
    EXPECT_LE(a.score, 1.0f);
    // The same answer alone.
    const rt::Answer one = reader.answer(inputs[i].question, c);
    EXPECT_EQ(one.text, a.text);
    EXPECT_NEAR(one.score, a.score, 1e-5);
  }
  EXPECT_FALSE(answers[3].found());  // an empty context has no span
  EXPECT_TRUE(reader.answer(std::vector<rt::QaInput>{}).empty());
}

TEST(RuntimeReader, OptionsChangeTheSearchAndBadInputIsAnError) {
  const fs::path dir = reader_package("reader_opts");
  rt::ReaderOptions one_token;
  one_token.max_answer_length = 1;
  auto reader = rt::Reader::load(dir, {}, one_token);
  const auto a = reader.answer("Where is it?", "Angela Merkel went to New York and then to Berlin");
  ASSERT_TRUE(a.found());
  EXPECT_EQ(text::split_whitespace(a.text).size(), 1u);
  expect_one_line(error_of([&] {
                    (void)reader.answer(std::vector<rt::QaInput>{{"a", "b"}}, 0);
                  }),
                  "answer: batch_size must be >= 1, got 0");
  rt::ReaderOptions zero;
  zero.n_best_size = 0;
  expect_one_line(error_of([&] { (void)rt::Reader::load(dir, {}, zero); }),
                  "Reader: n_best_size and max_answer_length must be >= 1, got 0 and 30");
  // The package's n_best_size and max_answer_length are the defaults; explicit options override them.
  const std::vector<rt::QaInput> qs = {{"Where is it?", "Angela Merkel went to New York and then to Berlin"},
                                       {"Who?", "Paris , Berlin and New York , said Angela Merkel"}};
  auto texts = [](rt::Reader& r, const std::vector<rt::QaInput>& in) {
    std::vector<std::string> out;
    for (const auto& x : r.answer(in)) out.push_back(x.text);
    return out;
  };
  rt::ReaderOptions thirty;
  thirty.max_answer_length = 30;
  auto explicit_thirty = rt::Reader::load(dir, {}, thirty);
  nlohmann::json j = nlohmann::json::parse(rt::testing::read_bytes(dir / "package.json"));
  j["n_best_size"] = 20;
  j["max_answer_length"] = 1;
  rt::testing::write_bytes(dir / "package.json", j.dump());
  auto recorded = rt::Reader::load(dir);
  EXPECT_EQ(recorded.package().max_answer_length, 1);
  EXPECT_EQ(texts(recorded, qs), texts(reader, qs));
  auto overridden = rt::Reader::load(dir, {}, thirty);
  EXPECT_EQ(texts(overridden, qs), texts(explicit_thirty, qs));
  expect_one_line(error_of([&] { (void)rt::Reader::load(dir, {}, zero); }),
                  "Reader: n_best_size and max_answer_length must be >= 1, got 0 and 1");
  j["max_answer_length"] = 0;
  rt::testing::write_bytes(dir / "package.json", j.dump());
  expect_one_line(error_of([&] { (void)rt::Reader::load(dir); }),
                  (dir / "package.json").string() + ": key 'max_answer_length' is 0, expected >= 1");
  // A package whose lengths leave no room for a window.
  const fs::path tight = reader_package("reader_tight", 12, 8, 6);
  expect_one_line(error_of([&] { (void)rt::Reader::load(tight); }),
                  (tight / "package.json").string() + ": qa features: doc_stride 8 must be smaller than");
  expect_one_line(error_of([&] { (void)rt::Reader::load(tagger_package("reader_token_cls")); }),
                  ": task token_cls, a Reader runs qa packages");
  // Odd text does not crash: control characters, invalid UTF-8, an empty question.
  EXPECT_NO_THROW((void)reader.answer("", "Paris\x01 \xFF\xFE merkel \xE4\xB8"));
  EXPECT_NO_THROW((void)reader.answer("\xFF?", "\t\n"));
}

}  // namespace
