// Tagger, Reader and Classifier against the evaluation of their tasks on small trained models (LibTorch: the task
// plugins, the Trainer and the export). A token_cls and a qa model are trained for a few hundred steps on the
// synthetic sources, evaluated by the task (evaluate_examples: the metric and every example's prediction),
// exported as fp32 packages; the runtime must give the same predictions, so the same chunk F1 and the same EM/F1.
// The decoding options of the [task] (strict chunking, n_best_size, max_answer_length) reach the runtime through
// package.json. INT8 packages of a PTQ plan (abs_max) against the fake-quant evaluation (Check below); on
// ../shared/data (realdata) the same for SST-2, CoNLL-2003 and SQuAD.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/data/synthetic_token_cls.hpp"
#include "slimpipe/data/token_cls_reader.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/metrics/chunk.hpp"
#include "slimpipe/metrics/squad.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/tasks/example_scores.hpp"
#include "slimpipe/tasks/token_cls_features.hpp"
#include "slimpipe/train/trainer.hpp"
#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/reader.hpp"
#include "slimpipe_runtime/tagger.hpp"
#include "tasks/task_test_support.hpp"
#include "tiny_model.hpp"
#include "train/train_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
namespace rt = slimpipe_runtime;
using Json = nlohmann::json;

using rt::testing::scratch_dir;

struct Trained {
  std::shared_ptr<Task> task;
  nn::TaskModel model{nullptr};
  std::shared_ptr<const FeatureSet> eval;
  tasks::ExampleEvaluation evaluation;
  fs::path package;  // the fp32 runtime package
};

// Trains a 2-layer, 64-wide encoder from scratch on the task's synthetic train split for `steps` steps, evaluates
// it on the eval split (batches of 16, padded to their longest) and exports it.
Trained train_and_export(const std::string& task_name, const Json& params, std::int64_t max_seq_length,
                         std::int64_t steps, const text::WordPieceTokenizer& tokenizer) {
  Trained t;
  t.task = tasktest::make_task(task_name, params);  // records the [task]'s lengths for the package
  const HeadSpec head = t.task->head();
  nn::EncoderConfig c;
  c.vocab_size = static_cast<std::int64_t>(tokenizer.vocab_size());
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.max_position_embeddings = std::max<std::int64_t>(64, max_seq_length);
  c.num_labels = head.num_labels;
  for (std::size_t i = 0; i < head.labels.size(); ++i) c.id2label[static_cast<std::int64_t>(i)] = head.labels[i];
  at::manual_seed(11);
  t.model = nn::TaskModel(c, head.head);

  train::TrainingArguments args;
  args.learning_rate = 3e-3;
  args.per_device_train_batch_size = 32;
  args.max_steps = steps;
  args.warmup_ratio = 0.1;
  args.logging_steps = 0;
  args.save_steps = 0;
  train_test::TestContext ctx(t.task.get(), 1);
  train::Trainer trainer(t.model, *t.task, args, ctx);
  trainer.set_train_data(t.task->features("train", tokenizer, max_seq_length));
  (void)trainer.train();
  t.model = trainer.model();
  t.model->eval();

  t.eval = t.task->features("eval", tokenizer, max_seq_length);
  auto* scoring = dynamic_cast<tasks::ExampleScoring*>(t.task.get());
  if (!scoring) throw std::runtime_error(task_name + ": no ExampleScoring");
  {
    at::NoGradGuard no_grad;
    t.evaluation = scoring->evaluate_examples(*t.model, *t.eval, 16, {});
  }
  const fs::path dir = scratch_dir("trained_" + task_name + "_" + std::to_string(max_seq_length));
  io::SaveOptions save;
  save.vocab = tokenizer.vocab();
  save.tokenizer_config = tokenizer.options().to_json();
  io::save_model(dir, *t.model, save);
  exporter::export_runtime(*t.model, dir / "runtime");
  t.package = dir / "runtime";
  return t;
}

// How a package is held to an evaluation. Exact (fp32): every prediction equal, so the metric. Metric (INT8): the
// metric within 0.1 of the fake-quant evaluation of the model the package holds.
enum class Check { Exact, Metric };
constexpr double kInt8Tolerance = 0.1;

// An INT8 package and the evaluation it is held to: the fake-quant forward of the same plan.
// Two packages of one plan: as the ptq plugin exports it (the word-embedding table stored f16), and with
// RuntimeExportOptions::f16_word_embeddings = false (the table the ptq cell evaluates). Each is held to the
// fake-quant evaluation of the model it holds: `evaluation` is the ptq cell's (fp32 table), `evaluation_f16` the
// same with the table rounded to half, as the default package computes.
struct Quantized {
  tasks::ExampleEvaluation evaluation, evaluation_f16;
  fs::path package, package_f32_emb;
};

// A ptq cell on the trained model: abs_max calibration on the first 8 batches of 16 eval features, per-channel
// weights (what the ptq plugin does with algo abs_max), evaluated with the fake-quant hook and exported as INT8.
Quantized quantize_and_export(Trained& t, const std::string& name) {
  quant::PtqOptions options;
  options.algo = "abs_max";
  options.batch_size = 16;
  options.batch_num = 8;
  quant::PtqResult r = quant::quantize_post_training(*t.model, *t.eval, options);
  r.model->eval();
  Quantized q;
  {
    at::NoGradGuard no_grad;
    q.evaluation = dynamic_cast<tasks::ExampleScoring&>(*t.task).evaluate_examples(*r.model, *t.eval, 16,
                                                                                   quant::make_fake_quant_hook(r.plan));
  }
  q.package = t.package.parent_path() / ("runtime_int8_" + name);  // beside runtime/: the model folder's tokenizer
  exporter::export_runtime(*r.model, r.plan, q.package);
  q.package_f32_emb = t.package.parent_path() / ("runtime_int8_f32emb_" + name);
  exporter::RuntimeExportOptions f32_embeddings;
  f32_embeddings.f16_word_embeddings = false;
  exporter::export_runtime(*r.model, r.plan, q.package_f32_emb, f32_embeddings);
  {
    at::NoGradGuard no_grad;
    at::Tensor table = r.model->named_parameters()["embeddings.word_embeddings.weight"];
    table.copy_(table.to(at::kHalf).to(at::kFloat));  // round to nearest even, as the export does
    q.evaluation_f16 = dynamic_cast<tasks::ExampleScoring&>(*t.task).evaluate_examples(
        *r.model, *t.eval, 16, quant::make_fake_quant_hook(r.plan));
  }
  return q;
}

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

using Chunks = std::set<std::tuple<std::string, std::size_t, std::size_t>>;  // type, first word, end word

// The Tagger on the evaluation's sentences (words joined with spaces): the words it tags are the words the
// evaluation scores, with the evaluation's tags, and its entities give the evaluation's chunk counts and F1.
// Returns the number of sentences truncated.
std::size_t expect_tagger_reproduces(const Trained& t, const data::TokenClsDataset& eval,
                                     const text::WordPieceTokenizer& tokenizer, std::int64_t max_seq_length,
                                     const tasks::ExampleEvaluation& evaluation, const fs::path& package,
                                     Check check = Check::Exact) {
  EXPECT_EQ(evaluation.predictions.size(), eval.examples.size());
  const auto features = tasks::featurize_token_cls(eval, tokenizer, static_cast<std::size_t>(max_seq_length));
  auto tagger = rt::Tagger::load(package);
  EXPECT_EQ(tagger.package().labels, t.task->head().labels);
  std::vector<std::string> texts;
  for (const auto& ex : eval.examples) texts.push_back(joined(ex.words));
  const std::vector<rt::Tagging> tagged = tagger.predict(texts, 16);
  EXPECT_EQ(tagged.size(), texts.size());

  metrics::ChunkScore counts;
  std::size_t truncated = 0, same_tags = 0, wrong = 0;
  for (std::size_t i = 0; i < texts.size() && i < tagged.size(); ++i) {
    const data::TokenClsExample& ex = eval.examples[i];
    const rt::Tagging& g = tagged[i];
    if (g.words.size() != ex.words.size()) {
      ADD_FAILURE() << texts[i] << ": " << g.words.size() << " words, the example has " << ex.words.size();
      continue;
    }
    truncated += g.truncated;
    // The words the Tagger tags are the words the evaluation scores, and it predicts the evaluation's tags.
    std::vector<std::size_t> scored;
    std::vector<std::string> gold;
    std::string ids;
    for (std::size_t w = 0; w < ex.words.size(); ++w) {
      if ((g.words[w].label_id >= 0) != (features[i].word_starts[w] >= 0) && wrong++ < 10)
        ADD_FAILURE() << texts[i] << ": word " << w << " tagged " << g.words[w].label_id << ", first token "
                      << features[i].word_starts[w];
      if (g.words[w].label_id < 0) continue;
      scored.push_back(w);
      gold.push_back(t.task->head().labels[static_cast<std::size_t>(ex.tags[w])]);
      ids += std::to_string(g.words[w].label_id) + " ";
    }
    same_tags += ids == evaluation.predictions[i];
    if (ids != evaluation.predictions[i] && check == Check::Exact && wrong++ < 10)
      ADD_FAILURE() << texts[i] << ": tags " << ids << ", evaluation " << evaluation.predictions[i];
    // Entities against the gold chunks of the scored words, both by word index in the sentence.
    Chunks want, got;
    for (const auto& c : metrics::extract_chunks(gold)) want.insert({c.type, scored[c.begin], scored[c.end - 1] + 1});
    for (const rt::Entity& e : g.entities) {
      got.insert({e.type, e.first_word, e.end_word});
      EXPECT_EQ(e.text, texts[i].substr(e.byte_start, e.byte_end - e.byte_start));
      if (!g.truncated || e.end_word < scored.back() + 1) {  // a word cut by truncation ends early
        EXPECT_EQ(e.text, joined(std::vector<std::string>(ex.words.begin() + static_cast<std::ptrdiff_t>(e.first_word),
                                                          ex.words.begin() + static_cast<std::ptrdiff_t>(e.end_word))));
      }
    }
    EXPECT_EQ(got.size(), g.entities.size());
    counts.gold += want.size();
    counts.predicted += got.size();
    for (const auto& c : got) counts.correct += want.count(c);
  }
  const Json& m = evaluation.metrics.all;
  std::printf(
      "token_cls %s: evaluate F1 %.4f (%zu gold, %zu predicted entities); Tagger F1 %.4f (%zu gold, %zu "
      "predicted, %zu correct); %zu of %zu sentences truncated; tags equal in %zu\n",
      (package.filename().string() + " " + tagger.info().precision).c_str(), evaluation.metrics.value,
      m["gold_entities"].get<std::size_t>(), m["predicted_entities"].get<std::size_t>(), 100.0 * counts.f1(),
      counts.gold, counts.predicted, counts.correct, truncated, texts.size(), same_tags);
  EXPECT_EQ(counts.gold, m["gold_entities"].get<std::size_t>());
  if (check == Check::Exact) {
    EXPECT_EQ(counts.predicted, m["predicted_entities"].get<std::size_t>());
    EXPECT_EQ(100.0 * counts.f1(), evaluation.metrics.value);
  } else {
    EXPECT_NEAR(100.0 * counts.f1(), evaluation.metrics.value, kInt8Tolerance);
  }
  return truncated;
}

// The Reader on the evaluation's questions: its answers are the evaluation's predictions, so EM and F1 are equal.
// Returns the number of answers found in a window after the first.
std::size_t expect_reader_reproduces(const Trained& t, const data::QaDataset& eval,
                                     const tasks::ExampleEvaluation& evaluation, const fs::path& package,
                                     Check check = Check::Exact) {
  EXPECT_EQ(evaluation.predictions.size(), eval.examples.size());
  auto reader = rt::Reader::load(package);
  std::vector<rt::QaInput> inputs;
  for (const auto& ex : eval.examples) inputs.push_back({ex.question, ex.context});
  const std::vector<rt::Answer> answers = reader.answer(inputs, 16);
  EXPECT_EQ(answers.size(), inputs.size());

  metrics::QaScorer scorer(metrics::default_scoring(metrics::QaLanguage::En));
  std::size_t same = 0, later_window = 0, wrong = 0;
  for (std::size_t i = 0; i < inputs.size() && i < answers.size(); ++i) {
    const rt::Answer& a = answers[i];
    same += a.text == evaluation.predictions[i];
    if (a.text != evaluation.predictions[i] && check == Check::Exact && wrong++ < 10)
      ADD_FAILURE() << inputs[i].question << ": '" << a.text << "', evaluation '" << evaluation.predictions[i] << "'";
    EXPECT_EQ(a.text, inputs[i].context.substr(a.byte_start, a.byte_end - a.byte_start));
    later_window += a.window > 0;
    std::vector<std::string> golds;
    for (const auto& g : eval.examples[i].answers) golds.push_back(g.text);
    scorer.add(a.text, golds);
  }
  const Json& m = evaluation.metrics.all;
  std::printf(
      "qa %s: evaluate EM %.4f F1 %.4f; Reader EM %.4f F1 %.4f; %zu of %zu answers equal, %zu from a later "
      "window; %lld windows\n",
      (package.filename().string() + " " + reader.info().precision).c_str(), m["exact_match"].get<double>(),
      m["f1"].get<double>(), scorer.exact(), scorer.f1(), same, inputs.size(), later_window,
      static_cast<long long>(t.eval->size()));
  if (check == Check::Exact) {
    EXPECT_EQ(scorer.exact(), m["exact_match"].get<double>());
    EXPECT_EQ(scorer.f1(), m["f1"].get<double>());
  } else {
    EXPECT_NEAR(scorer.exact(), m["exact_match"].get<double>(), kInt8Tolerance);
    EXPECT_NEAR(scorer.f1(), m["f1"].get<double>(), kInt8Tolerance);
  }
  return later_window;
}

// The Classifier on the evaluation's sentences: its labels are the evaluation's predictions (fp32), and its
// accuracy is the evaluation's (INT8: within tolerance of the fake-quant evaluation).
void expect_classifier_reproduces(const data::SeqClsDataset& eval, const tasks::ExampleEvaluation& evaluation,
                                  const fs::path& package, Check check = Check::Exact) {
  EXPECT_EQ(evaluation.predictions.size(), eval.examples.size());
  auto clf = rt::Classifier::load(package);
  std::vector<std::string> texts;
  for (const auto& ex : eval.examples) texts.push_back(ex.text_a);
  const std::vector<rt::Prediction> predicted = clf.predict(texts, 32);
  EXPECT_EQ(predicted.size(), texts.size());
  std::size_t correct = 0, same = 0, wrong = 0;
  for (std::size_t i = 0; i < texts.size() && i < predicted.size(); ++i) {
    correct += predicted[i].label_id == eval.examples[i].label;
    const std::string id = std::to_string(predicted[i].label_id);
    same += id == evaluation.predictions[i];
    if (id != evaluation.predictions[i] && check == Check::Exact && wrong++ < 10)
      ADD_FAILURE() << texts[i] << ": label " << id << ", evaluation " << evaluation.predictions[i];
  }
  const double accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(texts.size());
  std::printf("seq_cls %s: evaluate accuracy %.4f; Classifier accuracy %.4f; %zu of %zu labels equal\n",
              (package.filename().string() + " " + clf.info().precision).c_str(), evaluation.metrics.value, accuracy,
              same, texts.size());
  EXPECT_NEAR(accuracy, evaluation.metrics.value, check == Check::Exact ? 1e-9 : kInt8Tolerance);
}

TEST(RuntimeTaggerExport, EntitiesReproduceTheTokenClsEvaluation) {
  constexpr std::size_t kEval = 300;
  constexpr std::uint64_t kSeed = 3;
  // max_seq_length 16 truncates the longer sentences: their last words are left out of the metric, and the
  // Tagger must leave them untagged the same way.
  const auto tokenizer = tasktest::synthetic_tokenizer();
  const Trained t = train_and_export("token_cls",
                                     Json{{"source", "synthetic"},
                                          {"synthetic_train_size", 2000},
                                          {"synthetic_eval_size", kEval},
                                          {"synthetic_seed", kSeed},
                                          {"max_seq_length", 16},
                                          {"strict", true},
                                          {"scheme", "bio"}},
                                     16, 300, tokenizer);
  EXPECT_GT(t.evaluation.metrics.value, 30.0);  // trained: chance is about 6
  // The [task]'s strict chunking is the package's, and the Tagger's default.
  const auto info = rt::read_package(t.package);
  EXPECT_TRUE(info.strict);
  EXPECT_EQ(info.scheme, "bio");
  EXPECT_GT(
      expect_tagger_reproduces(t, data::synthetic_token_cls(kEval, kSeed + 1), tokenizer, 16, t.evaluation, t.package),
      0u);
}

TEST(RuntimeReaderExport, AnswersReproduceTheQaEvaluation) {
  constexpr std::size_t kEval = 300;
  constexpr std::uint64_t kSeed = 3;
  // Windows of 40 tokens with a stride of 12 and questions cut to 10 tokens: most contexts take two or more.
  const Trained t = train_and_export("qa",
                                     Json{{"source", "synthetic"},
                                          {"synthetic_train_size", 3000},
                                          {"synthetic_eval_size", kEval},
                                          {"synthetic_seed", kSeed},
                                          {"max_seq_length", 40},
                                          {"doc_stride", 12},
                                          {"max_query_length", 10},
                                          {"n_best_size", 5},
                                          {"max_answer_length", 4}},
                                     40, 400, tasktest::synthetic_tokenizer());
  EXPECT_GT(t.eval->size(), static_cast<std::int64_t>(kEval * 3 / 2));
  EXPECT_GT(t.evaluation.metrics.all["f1"].get<double>(), 20.0);  // trained: a random span of 1-3 words scores a few
  const auto info = rt::read_package(t.package);
  EXPECT_EQ(info.doc_stride, 12);
  EXPECT_EQ(info.max_query_length, 10);
  EXPECT_EQ(info.n_best_size, 5);  // the [task]'s decoding options, the Reader's defaults
  EXPECT_EQ(info.max_answer_length, 4);
  EXPECT_GT(expect_reader_reproduces(t, data::synthetic_qa(kEval, kSeed + 1), t.evaluation, t.package), 0u);
}

TEST(RuntimeClassifierExport, LabelsReproduceTheSeqClsEvaluation) {
  constexpr std::size_t kEval = 300;
  constexpr std::uint64_t kSeed = 3;
  // The quickstart's task (synthetic sentiment, 3 labels), a smaller model trained for fewer steps.
  Trained t = train_and_export("seq_cls",
                               Json{{"source", "synthetic"},
                                    {"synthetic_train_size", 2000},
                                    {"synthetic_eval_size", kEval},
                                    {"synthetic_seed", kSeed},
                                    {"max_seq_length", 32}},
                               32, 300, tasktest::synthetic_tokenizer());
  EXPECT_GT(t.evaluation.metrics.value, 40.0);  // trained: chance is about 33
  const auto eval = data::synthetic_seq_cls(kEval, kSeed + 1);
  expect_classifier_reproduces(eval, t.evaluation, t.package);
  const Quantized q = quantize_and_export(t, "synthetic_seq_cls");
  expect_classifier_reproduces(eval, q.evaluation_f16, q.package, Check::Metric);
  expect_classifier_reproduces(eval, q.evaluation, q.package_f32_emb, Check::Metric);
}

// The same on ../shared/data (label realdata: minutes; skipped where the data is absent): a model trained briefly
// from scratch on SST-2 with bert-base-uncased's vocabulary, classifying its dev set; on CoNLL-2003, tagged on
// eng.testa; on SQuAD v1.1 dev, read on its first 2000 questions. The metrics are low (little training, no
// pretrained weights); what is checked is that the runtime reproduces them on real text, fp32 exactly, and INT8
// packages of an abs_max ptq cell against its fake-quant evaluation (Check above).
const fs::path kData = SLIMPIPE_SHARED_DATA_DIR;

TEST(RealDataTrainingRuntime, ClassifierReproducesSst2Evaluation) {
  const fs::path vocab = kData / "vocab/bert-base-uncased/vocab.txt";
  const fs::path train = kData / "sst2/train.tsv", dev = kData / "sst2/dev.tsv";
  for (const fs::path& f : {train, dev, vocab})
    if (!fs::exists(f)) GTEST_SKIP() << f << " is absent";
  const auto tokenizer = text::WordPieceTokenizer::from_files(vocab);
  Trained t = train_and_export(
      "seq_cls", Json{{"source", "file"}, {"train", train.string()}, {"eval", dev.string()}, {"max_seq_length", 64}},
      64, 400, tokenizer);
  data::SeqClsReadOptions options;
  options.labels = t.task->head().labels;
  const auto eval = data::read_seq_cls(dev.string(), options);
  EXPECT_GT(t.evaluation.metrics.value, 55.0);  // trained: the dev set is about half positive
  expect_classifier_reproduces(eval, t.evaluation, t.package);
  const Quantized q = quantize_and_export(t, "sst2");
  expect_classifier_reproduces(eval, q.evaluation_f16, q.package, Check::Metric);
  expect_classifier_reproduces(eval, q.evaluation, q.package_f32_emb, Check::Metric);
}

TEST(RealDataTrainingRuntime, TaggerReproducesConllEvaluation) {
  const fs::path vocab = kData / "vocab/bert-base-uncased/vocab.txt";
  for (const fs::path& f : {kData / "conll2003/eng.train", kData / "conll2003/eng.testa", vocab})
    if (!fs::exists(f)) GTEST_SKIP() << f << " is absent";
  const auto tokenizer = text::WordPieceTokenizer::from_files(vocab);
  Trained t = train_and_export("token_cls",
                               Json{{"source", "file"},
                                    {"train", (kData / "conll2003/eng.train").string()},
                                    {"eval", (kData / "conll2003/eng.testa").string()},
                                    {"max_seq_length", 48}},
                               48, 300, tokenizer);
  data::TokenClsReadOptions options;
  options.labels = t.task->head().labels;
  const auto eval = data::read_token_cls((kData / "conll2003/eng.testa").string(), options);
  EXPECT_GT(expect_tagger_reproduces(t, eval, tokenizer, 48, t.evaluation, t.package), 0u);
  const Quantized q = quantize_and_export(t, "conll");
  (void)expect_tagger_reproduces(t, eval, tokenizer, 48, q.evaluation_f16, q.package, Check::Metric);
  (void)expect_tagger_reproduces(t, eval, tokenizer, 48, q.evaluation, q.package_f32_emb, Check::Metric);
}

TEST(RealDataTrainingRuntime, ReaderReproducesSquadEvaluation) {
  const fs::path zip = kData / "squad_v1.1/dev-v1.1.json.zip";
  const fs::path vocab = kData / "vocab/bert-base-uncased/vocab.txt";
  for (const fs::path& f : {zip, vocab})
    if (!fs::exists(f)) GTEST_SKIP() << f << " is absent";
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is needed to unzip";
  const fs::path dir = scratch_dir("squad_dev");
  const std::string unzip = "/usr/bin/python3 -m zipfile -e '" + zip.string() + "' '" + dir.string() + "'";
  ASSERT_EQ(std::system(unzip.c_str()), 0) << unzip;
  // The first 2000 questions as their own file, for training and evaluation alike.
  const Json all = Json::parse(rt::testing::read_bytes(dir / "dev-v1.1.json"));
  Json part = {{"version", all["version"]}, {"data", Json::array()}};
  std::size_t questions = 0;
  for (const Json& article : all["data"]) {
    if (questions >= 2000) break;
    part["data"].push_back(article);
    for (const Json& paragraph : article["paragraphs"]) questions += paragraph["qas"].size();
  }
  rt::testing::write_bytes(dir / "part.json", part.dump());
  const auto tokenizer = text::WordPieceTokenizer::from_files(vocab);
  const std::string file = (dir / "part.json").string();
  Trained t = train_and_export("qa",
                               Json{{"source", "file"},
                                    {"train", file},
                                    {"eval", file},
                                    {"max_seq_length", 128},
                                    {"doc_stride", 32},
                                    {"max_query_length", 32}},
                               128, 200, tokenizer);
  const auto eval = data::read_qa(file);
  EXPECT_GT(expect_reader_reproduces(t, eval, t.evaluation, t.package), 0u);
  const Quantized q = quantize_and_export(t, "squad");
  (void)expect_reader_reproduces(t, eval, q.evaluation_f16, q.package, Check::Metric);
  (void)expect_reader_reproduces(t, eval, q.evaluation, q.package_f32_emb, Check::Metric);
}

}  // namespace
