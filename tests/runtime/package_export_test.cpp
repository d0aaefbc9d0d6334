// The packages the SDK writes (exporter::export_runtime, export_runtime_package) as the runtime reads them: task,
// label names, sequence lengths, tokenizer files and checksums. Needs LibTorch (the models are TaskModels).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/tasks/collation.hpp"
#include "slimpipe/tasks/seq_cls_features.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/classifier.hpp"
#include "slimpipe_runtime/runtime.hpp"
#include "tasks/task_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
namespace rt = slimpipe_runtime;
using Json = nlohmann::json;

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(SLIMPIPE_BINARY_DIR) / "tests" / "runtime_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> vocab(std::size_t n = 100) {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"};
  while (v.size() < n) v.push_back("w" + std::to_string(v.size()));
  return v;
}

// The tiny BERT (tests/common/tiny_bert.hpp) with one layer, its own initial weights after seeding.
nn::TaskModel make_model(nn::TaskHead head, std::int64_t max_positions = 64) {
  at::manual_seed(5);
  nn::EncoderConfig config = tiny_bert::config();
  config.num_hidden_layers = 1;
  config.max_position_embeddings = max_positions;
  if (head != nn::TaskHead::QuestionAnswering) config.id2label = {{0, "negative"}, {1, "neutral"}, {2, "positive"}};
  nn::TaskModel model(config, head);
  model->eval();
  return model;
}

// A model folder as the pipelines write one: config.json, model.safetensors, vocab.txt, tokenizer_config.json.
fs::path model_folder(const std::string& name, nn::TaskModelImpl& model, bool lowercase = true) {
  const fs::path dir = scratch(name);
  io::SaveOptions save;
  save.vocab = vocab();
  text::TokenizerOptions options;
  options.do_lower_case = lowercase;
  options.model_max_length = 48;
  save.tokenizer_config = options.to_json();
  io::save_model(dir, model, save);
  return dir;
}

Json read_json(const fs::path& file) {
  std::ifstream in(file);
  return Json::parse(in);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RuntimePackageExport, ModelFolderExportHoldsTokenizerLabelsLengthsAndChecksums) {
  nn::TaskModel model = make_model(nn::TaskHead::SequenceClassification);
  const fs::path dir = model_folder("pkg_export_seq_cls", *model, /*lowercase=*/false);
  exporter::export_runtime(*model, dir / "runtime");
  for (const char* f : {"runtime.json", "weights.bin", "vocab.txt", "tokenizer_config.json", "package.json"})
    EXPECT_TRUE(fs::exists(dir / "runtime" / f)) << f;
  const Json j = read_json(dir / "runtime" / "package.json");
  EXPECT_EQ(j["format"], "slimpipe-package");
  EXPECT_EQ(j["version"], exporter::kPackageFormatVersion);
  EXPECT_EQ(j["task"], "seq_cls");
  EXPECT_EQ(j["labels"], Json({"negative", "neutral", "positive"}));
  EXPECT_EQ(j["max_seq_length"], 48);  // tokenizer_config's model_max_length, below max_position_embeddings 64
  EXPECT_FALSE(j.contains("doc_stride"));
  for (const char* key : {"n_best_size", "max_answer_length", "strict", "scheme"}) EXPECT_FALSE(j.contains(key)) << key;
  EXPECT_EQ(j["files"].size(), 4u);

  auto loaded = rt::Model::load(dir / "runtime");
  ASSERT_NE(loaded.package(), nullptr);
  const auto tok =
      text::WordPieceTokenizer::from_files(loaded.package()->vocab_file, loaded.package()->tokenizer_config_file);
  EXPECT_FALSE(tok.options().do_lower_case);
  EXPECT_EQ(tok.vocab(), vocab());

  // The [task]'s lengths win over the tokenizer's; a length beyond the position table is refused.
  {
    const exporter::TaskPackageScope task(Params(Json{{"max_seq_length", 40}}));
    exporter::export_runtime(*model, dir / "runtime");
    EXPECT_EQ(read_json(dir / "runtime" / "package.json")["max_seq_length"], 40);
  }
  {
    const exporter::TaskPackageScope task(Params(Json{{"max_seq_length", 65}}));
    EXPECT_EQ(
        error_of([&] { exporter::export_runtime(*model, dir / "runtime"); }),
        (dir / "runtime").string() + ": package max_seq_length 65 exceeds the model's max_position_embeddings 64");
  }
}

// Task settings are in force while their scope lives, the newest scope first; an export after they end takes the
// defaults (here the tokenizer's model_max_length 48).
TEST(RuntimePackageExport, TaskSettingsHoldOnlyWhileTheirScopeLives) {
  nn::TaskModel model = make_model(nn::TaskHead::SequenceClassification);
  const fs::path dir = model_folder("pkg_export_scopes", *model);
  const auto exported_length = [&] {
    exporter::export_runtime(*model, dir / "runtime");
    return read_json(dir / "runtime" / "package.json")["max_seq_length"].get<std::int64_t>();
  };
  {
    const exporter::TaskPackageScope outer(Params(Json{{"max_seq_length", 40}}));
    EXPECT_EQ(exported_length(), 40);
    {
      const exporter::TaskPackageScope inner(Params(Json{{"max_seq_length", 30}}));
      EXPECT_EQ(exported_length(), 30);
    }
    EXPECT_EQ(exported_length(), 40);
  }
  EXPECT_EQ(exported_length(), 48);
  // Ended out of order: the older one goes first, the newer stays in force.
  auto older = std::make_unique<exporter::TaskPackageScope>(Params(Json{{"max_seq_length", 20}}));
  auto newer = std::make_unique<exporter::TaskPackageScope>(Params(Json{{"max_seq_length", 24}}));
  older.reset();
  EXPECT_EQ(exported_length(), 24);
  newer.reset();
  EXPECT_EQ(exported_length(), 48);
}

// configure_task's settings last as long as the task: a task configured with the schema's default max_seq_length
// (128) refuses a 64-position model while it lives, and once it is gone a later export inherits nothing from it.
TEST(RuntimePackageExport, ConfiguredTaskSettingsEndWithTheTask) {
  nn::TaskModel model = make_model(nn::TaskHead::SequenceClassification);
  const fs::path dir = model_folder("pkg_export_task_lifetime", *model);
  std::shared_ptr<Task> task = tasktest::make_task("seq_cls", Json{{"source", "synthetic"}});
  EXPECT_EQ(error_of([&] { exporter::export_runtime(*model, dir / "runtime"); }),
            (dir / "runtime").string() + ": package max_seq_length 128 exceeds the model's max_position_embeddings 64");
  task.reset();
  exporter::export_runtime(*model, dir / "runtime");
  EXPECT_EQ(read_json(dir / "runtime" / "package.json")["max_seq_length"], 48);
}

TEST(RuntimePackageExport, WithoutAVocabularyThePackageHasNoTokenizer) {
  nn::TaskModel model = make_model(nn::TaskHead::TokenClassification);
  const fs::path dir = scratch("pkg_export_bare");
  exporter::export_runtime(*model, dir / "runtime");
  const Json j = read_json(dir / "runtime" / "package.json");
  EXPECT_TRUE(j["tokenizer"].is_null());
  EXPECT_EQ(j["max_seq_length"], 64);
  EXPECT_FALSE(fs::exists(dir / "runtime" / "vocab.txt"));
  auto loaded = rt::Model::load(dir / "runtime");
  ASSERT_NE(loaded.package(), nullptr);
  EXPECT_FALSE(loaded.package()->has_tokenizer);
}

TEST(RuntimePackageExport, HuggingFaceCheckpointPackagesAsTheModelExports) {
  nn::TaskModel model = make_model(nn::TaskHead::QuestionAnswering);
  const fs::path hf = model_folder("pkg_hf_qa", *model);
  const fs::path out = scratch("pkg_hf_qa_out") / "pkg";
  exporter::export_runtime_package(hf, out, "");
  const Json j = read_json(out / "package.json");
  EXPECT_EQ(j["task"], "qa");
  EXPECT_EQ(j["labels"], Json::array());
  EXPECT_EQ(j["doc_stride"], 128);
  EXPECT_EQ(j["max_query_length"], 64);
  EXPECT_EQ(j["n_best_size"], 20);  // no [task]: the qa task's decoding defaults
  EXPECT_EQ(j["max_answer_length"], 30);
  EXPECT_FALSE(j.contains("strict"));
  exporter::PackageSettings settings;
  settings.doc_stride = 16;
  settings.max_seq_length = 32;
  exporter::export_runtime_package(hf, out, "", settings);
  EXPECT_EQ(read_json(out / "package.json")["doc_stride"], 16);
  EXPECT_EQ(read_json(out / "package.json")["max_seq_length"], 32);
  // A [task]'s decoding options reach the package; settings override them.
  {
    const exporter::TaskPackageScope task(Params(Json{{"n_best_size", 7}, {"max_answer_length", 12}}));
    settings.max_answer_length = 9;
    exporter::export_runtime_package(hf, out, "", settings);
    EXPECT_EQ(read_json(out / "package.json")["n_best_size"], 7);
    EXPECT_EQ(read_json(out / "package.json")["max_answer_length"], 9);
  }

  // Same logits as the model exported directly.
  const fs::path direct = scratch("pkg_hf_qa_direct");
  exporter::export_runtime(*model, direct);
  auto a = rt::Model::load(out);
  auto b = rt::Model::load(direct);
  const std::vector<std::int64_t> ids = {2, 5, 6, 7, 3, 9, 10, 3};
  const auto& oa = a.run(ids, {}, {}, 1, 8);
  const std::vector<float> start(oa.start_logits, oa.start_logits + 8);
  const auto& ob = b.run(ids, {}, {}, 1, 8);
  EXPECT_EQ(start, std::vector<float>(ob.start_logits, ob.start_logits + 8));
}

TEST(RuntimePackageExport, HuggingFaceCheckpointErrorsNameTheFile) {
  nn::TaskModel model = make_model(nn::TaskHead::SequenceClassification);
  const fs::path hf = model_folder("pkg_hf_errors", *model);
  const fs::path out = scratch("pkg_hf_errors_out");
  EXPECT_EQ(error_of([&] { exporter::export_runtime_package(hf / "nosuch", out, ""); }),
            (hf / "nosuch").string() + ": not a folder (expected a Hugging Face checkpoint folder)");
  fs::remove(hf / "vocab.txt");
  EXPECT_EQ(error_of([&] { exporter::export_runtime_package(hf, out, ""); }),
            (hf / "vocab.txt").string() + ": file not found (a runtime package needs the vocabulary)");
  EXPECT_EQ(error_of([&] { exporter::export_runtime_package(hf, out, "ner"); }),
            "--task ner: expected seq_cls, token_cls or qa");
  const fs::path bare = scratch("pkg_hf_bare");
  nn::TaskModel encoder(model->config(), nn::TaskHead::None);
  io::SaveOptions save;
  save.vocab = vocab();
  io::save_model(bare, *encoder, save);
  EXPECT_NE(error_of([&] {
              exporter::export_runtime_package(bare, out, "");
            }).find((bare / "config.json").string() + ": 'architectures' names no task head"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { exporter::export_runtime_package(bare, out, "ner"); }),
            "--task ner: expected seq_cls, token_cls or qa");
}

// Classifier::predict against the evaluation path of the seq_cls task: featurize_seq_cls (the token ids),
// collate_inputs (padding) and TaskModel::forward (the logits).
TEST(RuntimeClassifierExport, MatchesTheModelPathOnTokenIdsAndLogits) {
  nn::TaskModel model = make_model(nn::TaskHead::SequenceClassification);
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) p.value().copy_(0.3 * at::randn(p.value().sizes()));
  }
  const fs::path dir = model_folder("clf_model_path", *model);
  {
    const exporter::TaskPackageScope task(Params(Json{{"max_seq_length", 12}}));
    exporter::export_runtime(*model, dir / "runtime");
  }

  data::SeqClsDataset dataset;
  dataset.source = "test";
  const std::vector<std::string> texts = {"GOOD film", "bad bad film w12 w13",
                                          "w50 w51 w52 w53 w54 w55 w56 w57 w58 w59 w60", "unknownword good", "Film"};
  for (const auto& t : texts) dataset.examples.push_back({t, std::nullopt, -1, 1});
  const auto tokenizer = text::WordPieceTokenizer::from_directory(dir);
  const tasks::SeqClsFeatures features = tasks::featurize_seq_cls(dataset, tokenizer, 12);

  auto clf = rt::Classifier::load(dir / "runtime");
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto enc = clf.encode(texts[i]);
    EXPECT_EQ(enc.ids, features.features[i].input_ids) << texts[i];
    EXPECT_EQ(enc.token_type_ids, features.features[i].token_type_ids) << texts[i];
  }
  const auto preds = clf.predict(texts, 8);
  const nn::EncoderInputs in = tasks::collate_inputs(features.features, {0, 1, 2, 3, 4}, tokenizer.pad_id());
  at::Tensor logits;
  {
    at::NoGradGuard no_grad;
    logits = model->forward(in).logits;
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for (std::int64_t j = 0; j < 3; ++j)
      EXPECT_NEAR(preds[i].logits[static_cast<std::size_t>(j)], logits[static_cast<std::int64_t>(i)][j].item<float>(),
                  1e-4)
          << texts[i];
    EXPECT_EQ(preds[i].label_id, logits[static_cast<std::int64_t>(i)].argmax().item<std::int64_t>());
    EXPECT_EQ(preds[i].label, std::vector<std::string>({"negative", "neutral", "positive"})[preds[i].label_id]);
  }
}

}  // namespace
