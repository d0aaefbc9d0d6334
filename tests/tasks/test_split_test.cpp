// The held-out test split of the three task plugins: synthetic test splits, test files read only when
// test is asked for (so a broken one harms nothing else), test splits carved out of eval or train and
// dev splits carved out of train (seeded; by label for seq_cls, by sentence for token_cls, by article for
// qa; removed from their split).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "slimpipe/tasks/data_source.hpp"
#include "task_test_support.hpp"

using namespace tasktest;
using slimpipe::Json;
using slimpipe::tasks::DataSplit;

namespace {

const slimpipe::tasks::SplitInfo& info(const slimpipe::Task& task) {
  const auto* i = dynamic_cast<const slimpipe::tasks::SplitInfo*>(&task);
  if (!i) throw std::runtime_error("the task does not implement tasks::SplitInfo");
  return *i;
}

// 60 labelled sentences "s<i>": 40 "a", 20 "b", interleaved.
std::string labelled_tsv(const std::string& prefix, int n) {
  std::string text = "sentence\tlabel\n";
  for (int i = 0; i < n; ++i) text += prefix + std::to_string(i) + "\t" + (i % 3 == 2 ? "b" : "a") + "\n";
  return text;
}

// The texts of a seq_cls split, from its features' first tokens (each sentence is one [UNK]-free word).
std::multiset<std::int64_t> first_ids(const slimpipe::FeatureSet& set) {
  const slimpipe::Batch b = collate_all(set);
  std::multiset<std::int64_t> ids;
  for (std::int64_t r = 0; r < b.size(); ++r) ids.insert(b.inputs.input_ids[r][1].item<std::int64_t>());
  return ids;
}

std::vector<std::string> words(const std::string& prefix, int n) {
  std::vector<std::string> w;
  for (int i = 0; i < n; ++i) w.push_back(prefix + std::to_string(i));
  return w;
}

}  // namespace

TEST(TestSplit, SyntheticTestSplitHasItsOwnSizeAndSeed) {
  for (const char* name : {"seq_cls", "token_cls", "qa"}) {
    SCOPED_TRACE(name);
    auto task = make_task(name, {{"source", "synthetic"},
                                 {"synthetic_train_size", 30},
                                 {"synthetic_eval_size", 20},
                                 {"synthetic_test_size", 25}});
    const auto tok = synthetic_tokenizer();
    auto test = task->features("test", tok, 0);
    EXPECT_EQ(test->num_examples(), 25);
    EXPECT_EQ(task->features("test", tok, 0).get(), test.get());  // cached like the others
    EXPECT_NE(task->features("eval", tok, 0).get(), test.get());
    EXPECT_TRUE(info(*task).has_split(DataSplit::Test));
    const Json j = info(*task).split_info(DataSplit::Test);
    EXPECT_EQ(j["source"], "synthetic");
    EXPECT_EQ(j["seed"], 3);  // synthetic_seed 1 + 2; eval has 2
    EXPECT_EQ(j["examples"], 25);
    EXPECT_EQ(info(*task).split_info(DataSplit::Eval)["seed"], 2);
  }
  // Different examples from eval (another seed), the same ones for the same parameters.
  auto a = make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_eval_size", 50}, {"synthetic_test_size", 50}});
  const auto tok = synthetic_tokenizer();
  const slimpipe::Batch test = collate_all(*a->features("test", tok, 32));
  EXPECT_FALSE(test.inputs.input_ids.equal(collate_all(*a->features("eval", tok, 32)).inputs.input_ids));
  auto b = make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_eval_size", 50}, {"synthetic_test_size", 50}});
  EXPECT_TRUE(test.inputs.input_ids.equal(collate_all(*b->features("test", tok, 32)).inputs.input_ids));

  auto none = make_task("qa", {{"source", "synthetic"}, {"synthetic_test_size", 0}});
  EXPECT_FALSE(info(*none).has_split(DataSplit::Test));
  EXPECT_EQ(error_of([&] { none->features("test", tok, 0); }),
            "[task] qa: the test split was asked for but synthetic_test_size = 0 (set it to at least 1)");
  EXPECT_NE(error_of([&] { none->features("dev", tok, 0); }).find("unknown split 'dev'"), std::string::npos);
}

// The test file is opened only by features("test"): a file that does not parse leaves configure, train
// and eval alone, and the test split's error names it.
TEST(TestSplit, TestFileIsReadOnlyWhenTestIsAskedFor) {
  TempDir dir("test-split-lazy");
  const std::string train = dir.write("train.tsv", "sentence\tlabel\na\tx\nb\ty\n");
  const std::string eval = dir.write("dev.tsv", "sentence\tlabel\nb\ty\n");
  const std::string broken = dir.write("test.tsv", "sentence\tlabel\na\tx\nno label here\n");
  auto task = make_task("seq_cls", {{"train", train}, {"eval", eval}, {"test", broken}});
  const auto tok = hand_tokenizer({"a", "b"});
  EXPECT_EQ(task->features("train", tok, 0)->size(), 2);
  EXPECT_EQ(task->features("eval", tok, 0)->size(), 1);
  EXPECT_TRUE(info(*task).has_split(DataSplit::Test));
  EXPECT_FALSE(info(*task).split_info(DataSplit::Test).contains("examples"));  // not read yet
  EXPECT_EQ(error_of([&] { task->features("test", tok, 0); }),
            broken + ":3: expected at least 2 tab-separated columns, found 1");
  // Fixed on disk, the next call reads it; a label the train file lacks is an error naming the test file.
  dir.write("test.tsv", "sentence\tlabel\na\tx\nb\ty\na\ty\n");
  EXPECT_EQ(task->features("test", tok, 0)->size(), 3);
  EXPECT_EQ(info(*task).split_info(DataSplit::Test)["examples"], 3);
  const std::string missing = (dir.path() / "nosuch.conll").string();
  auto tagger = make_task("token_cls", {{"train", dir.write("t.conll", "a B-X\nb O\n")}, {"test", missing}});
  EXPECT_NE(error_of([&] { tagger->features("test", tok, 0); }).find(missing + ": cannot open file"),
            std::string::npos);
  auto labels = make_task("seq_cls", {{"train", train}, {"test", dir.write("t2.tsv", "sentence\tlabel\na\tz\n")}});
  EXPECT_NE(error_of([&] { labels->features("test", tok, 0); }).find("t2.tsv:2: unknown label 'z'"), std::string::npos);

  auto no_test = make_task("seq_cls", {{"train", train}, {"eval", eval}});
  EXPECT_FALSE(info(*no_test).has_split(DataSplit::Test));
  EXPECT_EQ(error_of([&] { no_test->features("test", tok, 0); }),
            "[task] seq_cls: the test split was asked for but there is none (set test = \"...\", or test_from = "
            "\"eval\" or \"train\" with test_fraction or test_size)");
}

// seq_cls: test_from = "eval" moves a seeded, label-stratified share of eval to test.
TEST(TestSplit, SeqClsCarvesByLabelAndRemovesFromEval) {
  TempDir dir("test-split-seqcls");
  const std::string train = dir.write("train.tsv", labelled_tsv("t", 6));
  const std::string eval = dir.write("dev.tsv", labelled_tsv("s", 60));
  const auto tok = hand_tokenizer(words("s", 60));
  auto carved = [&](const Json& extra) {
    Json p{{"train", train}, {"eval", eval}, {"test_from", "eval"}};
    for (const auto& [k, v] : extra.items()) p[k] = v;
    return make_task("seq_cls", p);
  };
  auto task = carved({{"test_fraction", 0.25}});
  const auto dev = task->features("eval", tok, 0);
  const auto test = task->features("test", tok, 0);
  ASSERT_EQ(test->size(), 15);  // 25% of 60
  EXPECT_EQ(dev->size(), 45);
  // Stratified: 10 of the 40 "a" and 5 of the 20 "b" (label ids from the train file: a = 0, b = 1).
  const slimpipe::Batch tb = collate_all(*test);
  EXPECT_EQ(tb.targets.at("labels").sum().item<std::int64_t>(), 5);
  // Disjoint, and together the whole eval file.
  std::multiset<std::int64_t> all = first_ids(*dev);
  for (std::int64_t id : first_ids(*test)) {
    EXPECT_EQ(all.count(id), 0u) << id;
    all.insert(id);
  }
  EXPECT_EQ(all.size(), 60u);
  EXPECT_EQ(std::set<std::int64_t>(all.begin(), all.end()).size(), 60u);
  // Train is untouched; the same seed draws the same examples, another seed others.
  EXPECT_EQ(task->features("train", tok, 0)->size(), 6);
  EXPECT_EQ(first_ids(*carved({{"test_fraction", 0.25}})->features("test", tok, 0)), first_ids(*test));
  EXPECT_NE(first_ids(*carved({{"test_fraction", 0.25}, {"test_seed", 7}})->features("test", tok, 0)),
            first_ids(*test));
  const Json j = info(*task).split_info(DataSplit::Test);
  EXPECT_EQ(j["source"], "carved");
  EXPECT_EQ(j["from"], "eval");
  EXPECT_EQ(j["fraction"], 0.25);
  EXPECT_EQ(j["by"], "label");
  EXPECT_EQ(j["examples"], 15);
  EXPECT_EQ(info(*task).split_info(DataSplit::Eval)["test_carved_out"], true);
  EXPECT_EQ(info(*task).split_info(DataSplit::Eval)["examples"], 45);

  // A count, from train.
  auto from_train = make_task("seq_cls", {{"train", eval}, {"eval", train}, {"test_from", "train"}, {"test_size", 9}});
  EXPECT_EQ(from_train->features("test", tok, 0)->size(), 9);
  EXPECT_EQ(from_train->features("train", tok, 0)->size(), 51);
  EXPECT_EQ(collate_all(*from_train->features("test", tok, 0)).targets.at("labels").sum().item<std::int64_t>(), 3);

  EXPECT_EQ(error_of([&] {
              carved({{"test_size", 60}});
            }),
            "[task] seq_cls: test_size 60 of the 60 examples of eval leaves eval empty; lower it");
  EXPECT_EQ(error_of([&] {
              carved({{"test_fraction", 0.001}});
            }),
            "[task] seq_cls: test_fraction 0.001 of the 60 examples of eval carves none; raise it (or set test_size)");
}

// seq_cls: eval_from = "train" draws the dev split first; test_from = "train" then draws from what train
// keeps (SST-2's way: dev carved from train, the published dev file as test).
TEST(TestSplit, SeqClsCarvesDevFromTrainBeforeTest) {
  TempDir dir("test-split-seqcls-dev");
  const std::string train = dir.write("train.tsv", labelled_tsv("s", 60));
  const auto tok = hand_tokenizer(words("s", 60));
  auto task = make_task(
      "seq_cls",
      {{"train", train}, {"eval_from", "train"}, {"eval_fraction", 0.25}, {"test_from", "train"}, {"test_size", 9}});
  const auto dev = task->features("eval", tok, 0);
  const auto test = task->features("test", tok, 0);
  const auto rest = task->features("train", tok, 0);
  ASSERT_EQ(dev->size(), 15);  // 25% of 60: 10 "a", 5 "b"
  EXPECT_EQ(collate_all(*dev).targets.at("labels").sum().item<std::int64_t>(), 5);
  ASSERT_EQ(test->size(), 9);  // of the 45 train keeps: 6 "a", 3 "b"
  EXPECT_EQ(collate_all(*test).targets.at("labels").sum().item<std::int64_t>(), 3);
  EXPECT_EQ(rest->size(), 36);
  std::multiset<std::int64_t> all;
  for (const auto* set : {dev.get(), test.get(), rest.get()})
    for (std::int64_t id : first_ids(*set)) {
      EXPECT_EQ(all.count(id), 0u) << id;
      all.insert(id);
    }
  EXPECT_EQ(all.size(), 60u);
  const Json e = info(*task).split_info(DataSplit::Eval);
  EXPECT_EQ(e["source"], "carved");
  EXPECT_EQ(e["from"], "train");
  EXPECT_EQ(e["fraction"], 0.25);
  EXPECT_EQ(e["seed"], 2);
  EXPECT_EQ(e["by"], "label");
  EXPECT_EQ(e["examples"], 15);
  const Json t = info(*task).split_info(DataSplit::Train);
  EXPECT_EQ(t["eval_carved_out"], true);
  EXPECT_EQ(t["test_carved_out"], true);
  EXPECT_TRUE(info(*task).has_split(DataSplit::Eval));
  // The draw is seeded by eval_seed.
  auto again = [&](int seed) {
    return first_ids(
        *make_task("seq_cls", {{"train", train}, {"eval_from", "train"}, {"eval_size", 15}, {"eval_seed", seed}})
             ->features("eval", tok, 0));
  };
  EXPECT_EQ(again(2), first_ids(*dev));
  EXPECT_NE(again(3), first_ids(*dev));
  EXPECT_EQ(error_of([&] {
              make_task("seq_cls", {{"train", train}, {"eval_from", "train"}, {"eval_size", 60}});
            }),
            "[task] seq_cls: eval_size 60 of the 60 examples of train leaves train empty; lower it");
}

// token_cls: whole sentences move.
TEST(TestSplit, TokenClsCarvesSentences) {
  TempDir dir("test-split-tokcls");
  std::string conll;
  for (int i = 0; i < 20; ++i) conll += "w" + std::to_string(i) + " B-X\nz O\n\n";
  const std::string train = dir.write("train.conll", conll);
  auto task = make_task("token_cls", {{"train", train}, {"test_from", "train"}, {"test_fraction", 0.3}});
  std::vector<std::string> vocab = words("w", 20);
  vocab.push_back("z");
  const auto tok = hand_tokenizer(vocab);
  const auto test = task->features("test", tok, 0);
  const auto rest = task->features("train", tok, 0);
  EXPECT_EQ(test->size(), 6);
  EXPECT_EQ(rest->size(), 14);
  const slimpipe::Batch tb = collate_all(*test);
  for (std::int64_t r = 0; r < tb.size(); ++r) {
    EXPECT_EQ(tb.inputs.input_ids[r][2].item<std::int64_t>(), tok.token_to_id("z"));  // sentences kept whole
    EXPECT_EQ(tb.targets.at("labels")[r][1].item<std::int64_t>(), 0);
  }
  EXPECT_EQ(info(*task).split_info(DataSplit::Test)["by"], "sentence");
}

// qa: whole articles (a shared title or context) move, so no context is in both splits.
TEST(TestSplit, QaCarvesWholeArticles) {
  TempDir dir("test-split-qa");
  Json data{{"version", "1.1"}, {"data", Json::array()}};
  for (int a = 0; a < 10; ++a) {
    Json paragraphs = Json::array();
    for (int p = 0; p < 2; ++p) {
      const std::string context = "article " + std::to_string(a) + " paragraph " + std::to_string(p) + " says yes";
      Json qas = Json::array();
      for (int q = 0; q < 3; ++q)
        qas.push_back({{"id", std::to_string(a) + "-" + std::to_string(p) + "-" + std::to_string(q)},
                       {"question", "what does it say"},
                       {"answers", {{{"text", "yes"}, {"answer_start", context.size() - 3}}}}});
      paragraphs.push_back({{"context", context}, {"qas", qas}});
    }
    // Articles 8 and 9 share a title with 0 and 1: one article each, whatever their paragraphs.
    data["data"].push_back({{"title", "T" + std::to_string(a % 8)}, {"paragraphs", paragraphs}});
  }
  const std::string dev = dir.write("dev.json", data.dump());
  auto task = make_task("qa", {{"eval", dev}, {"test_from", "eval"}, {"test_size", 3}, {"test_seed", 5}});
  const auto tok = hand_tokenizer({"article", "paragraph", "says", "yes", "what", "does", "it", "say", "0", "1", "2",
                                   "3", "4", "5", "6", "7", "8", "9"});
  const std::int64_t test_questions = task->features("test", tok, 0)->num_examples();
  const std::int64_t dev_questions = task->features("eval", tok, 0)->num_examples();
  EXPECT_EQ(test_questions + dev_questions, 60);
  // 3 of the 8 articles: 6 questions each, or 12 for T0 and T1.
  EXPECT_GE(test_questions, 18);
  EXPECT_LE(test_questions, 30);
  EXPECT_EQ(test_questions % 6, 0);
  EXPECT_EQ(info(*task).split_info(DataSplit::Test)["by"], "article");
  // Every context's questions are on one side: a window's ids are the same for the same context.
  auto contexts = [&](const std::string& split) {
    std::set<std::vector<std::int64_t>> seen;
    auto set = task->features(split, tok, 0);
    const slimpipe::Batch b = collate_all(*set);
    for (std::int64_t r = 0; r < b.size(); ++r) {
      const at::Tensor row = b.inputs.input_ids[r];
      seen.insert(std::vector<std::int64_t>(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.size(0)));
    }
    return seen;
  };
  for (const auto& c : contexts("test")) EXPECT_EQ(contexts("eval").count(c), 0u);
}

// qa: dev and test both carved out of one file (SQuAD's dev set), by article, so no context is in two splits.
TEST(TestSplit, QaCarvesDevAndTestFromOneFileByArticle) {
  TempDir dir("test-split-qa-three");
  Json data{{"version", "1.1"}, {"data", Json::array()}};
  for (int a = 0; a < 12; ++a) {
    const std::string context = "article " + std::to_string(a) + " says yes";
    Json qas = Json::array();
    for (int q = 0; q < 2; ++q)
      qas.push_back({{"id", std::to_string(a) + "-" + std::to_string(q)},
                     {"question", "what does it say"},
                     {"answers", {{{"text", "yes"}, {"answer_start", context.size() - 3}}}}});
    data["data"].push_back(
        {{"title", "T" + std::to_string(a)}, {"paragraphs", {{{"context", context}, {"qas", qas}}}}});
  }
  const std::string file = dir.write("squad.json", data.dump());
  auto task = make_task(
      "qa", {{"train", file}, {"eval_from", "train"}, {"eval_size", 3}, {"test_from", "train"}, {"test_size", 4}});
  std::vector<std::string> vocab{"article", "says", "yes", "what", "does", "it", "say"};
  for (int a = 0; a < 12; ++a) vocab.push_back(std::to_string(a));
  const auto tok = hand_tokenizer(vocab);
  EXPECT_EQ(task->features("eval", tok, 0)->num_examples(), 6);
  EXPECT_EQ(task->features("test", tok, 0)->num_examples(), 8);
  EXPECT_EQ(task->features("train", tok, 0)->num_examples(), 10);
  auto contexts = [&](const std::string& split) {
    std::set<std::vector<std::int64_t>> seen;
    const slimpipe::Batch b = collate_all(*task->features(split, tok, 0));
    for (std::int64_t r = 0; r < b.size(); ++r) {
      const at::Tensor row = b.inputs.input_ids[r];
      seen.insert(std::vector<std::int64_t>(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.size(0)));
    }
    return seen;
  };
  const auto dev = contexts("eval"), test = contexts("test"), train = contexts("train");
  for (const auto& c : dev) {
    EXPECT_EQ(test.count(c), 0u);
    EXPECT_EQ(train.count(c), 0u);
  }
  for (const auto& c : test) EXPECT_EQ(train.count(c), 0u);
  EXPECT_EQ(info(*task).split_info(DataSplit::Eval)["by"], "article");
}

TEST(TestSplit, ParametersAreCheckedAtConfigure) {
  TempDir dir("test-split-params");
  const std::string train = dir.write("train.tsv", labelled_tsv("t", 6));
  const std::string test = dir.write("test.tsv", labelled_tsv("t", 3));
  auto err = [&](const Json& p) { return error_of([&] { make_task("seq_cls", p); }); };
  EXPECT_EQ(err({{"train", train}, {"test", test}, {"test_from", "train"}, {"test_size", 2}}),
            "[task] seq_cls: test = \"" + test + "\" and test_from = \"train\" both make the test split; keep one");
  EXPECT_EQ(err({{"train", train}, {"test_from", "train"}}),
            "[task] seq_cls: test_from = \"train\" needs one of test_fraction (in (0, 1)) or test_size (at least 1), "
            "not neither");
  EXPECT_EQ(err({{"train", train}, {"test_from", "train"}, {"test_size", 2}, {"test_fraction", 0.5}}),
            "[task] seq_cls: test_from = \"train\" needs one of test_fraction (in (0, 1)) or test_size (at least 1), "
            "not both");
  EXPECT_EQ(err({{"train", train}, {"test_from", "train"}, {"test_fraction", 1.5}}),
            "[task] seq_cls: test_fraction must be in (0, 1), got 1.5");
  EXPECT_EQ(err({{"train", train}, {"test_from", "eval"}, {"test_fraction", 0.5}}),
            "[task] seq_cls: test_from = \"eval\" needs the eval file (eval = \"...\")");
  EXPECT_EQ(
      err({{"train", train}, {"test_fraction", 0.5}}),
      "[task] seq_cls: test_fraction is used only with test_from = \"eval\" or \"train\"; set test_from or remove it");
  EXPECT_EQ(err({{"source", "synthetic"}, {"test_from", "eval"}, {"test_fraction", 0.5}}),
            "[task] seq_cls: test_from carves a test split out of files; source = \"synthetic\" makes its own "
            "(synthetic_test_size): remove test_from");
  EXPECT_EQ(err({{"source", "synthetic"}, {"synthetic_test_size", -1}}),
            "[task] seq_cls: synthetic_test_size must be at least 0 (0: no test split), got -1");
  EXPECT_EQ(err({{"train", train}, {"eval", test}, {"eval_from", "train"}, {"eval_size", 2}}),
            "[task] seq_cls: eval = \"" + test + "\" and eval_from = \"train\" both make the eval split; keep one");
  EXPECT_EQ(err({{"train", train}, {"eval_from", "train"}}),
            "[task] seq_cls: eval_from = \"train\" needs one of eval_fraction (in (0, 1)) or eval_size (at least 1), "
            "not neither");
  EXPECT_EQ(err({{"train", train}, {"eval_size", 2}}),
            "[task] seq_cls: eval_size is used only with eval_from = \"train\"; set eval_from or remove it");
  EXPECT_EQ(err({{"eval", test}, {"eval_from", "train"}, {"eval_size", 2}}),
            "[task] seq_cls: eval = \"" + test + "\" and eval_from = \"train\" both make the eval split; keep one");
  EXPECT_EQ(err({{"test", test}, {"eval_from", "train"}, {"eval_size", 2}}),
            "[task] seq_cls: source = \"file\" needs train or eval (or set source = \"synthetic\")");
  EXPECT_EQ(err({{"source", "synthetic"}, {"eval_from", "train"}, {"eval_size", 2}}),
            "[task] seq_cls: eval_from carves a dev split out of files; source = \"synthetic\" makes its own "
            "(synthetic_eval_size): remove eval_from");
  EXPECT_EQ(error_of([&] {
              make_task("seq_cls", {{"train", train}})->features("eval", hand_tokenizer(words("t", 6)), 0);
            }),
            "[task] seq_cls: the eval split was asked for but no file is set (eval = \"...\", or eval_from = \"train\" "
            "with eval_fraction or eval_size)");
  EXPECT_EQ(
      err({{"source", "synthetic"}, {"test", test}}),
      "[task] seq_cls: train, eval and test are files for source = \"file\"; remove them or set source = \"file\"");
}

TEST(TestSplit, OnlyInstancesThatReadTestSeeTheTestParameters) {
  using slimpipe::tasks::reads_test_split;
  EXPECT_TRUE(reads_test_split({{"split", "test"}}));
  EXPECT_TRUE(reads_test_split({{"report_test", true}}));
  EXPECT_FALSE(reads_test_split({{"split", "eval"}}));
  EXPECT_FALSE(reads_test_split({{"report_test", false}, {"algo", "test"}}));
  EXPECT_EQ(slimpipe::tasks::test_only_params(), (std::vector<std::string>{"test", "synthetic_test_size"}));
}
