// A checkpoint must hold what its config.json describes: a tensor the config does not use is an error naming
// the file and the tensor (a second layer under num_hidden_layers = 1 used to load and be dropped), while the
// tensors transformers' checkpoints legitimately carry beside the model still load. A vocab.txt with more
// entries than vocab_size, and ids outside the embedding, are one-line errors too.
#include <gtest/gtest.h>

#include <fstream>

#include "nn_test_support.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/safetensors.hpp"

namespace slimpipe::io {
namespace {

using namespace slimpipe::nn;
using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

fs::path saved_model(TaskHead head = TaskHead::SequenceClassification, const std::string& tag = "") {
  fs::path dir = scratch_dir(tag);
  save_model(dir, *random_model(tiny_config(), head));
  return dir;
}

void edit_config(const fs::path& dir, const std::function<void(Json&)>& edit) {
  Json j = Json::parse(std::ifstream(dir / "config.json"));
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
}

void edit_tensors(const fs::path& dir, const std::function<void(TensorMap&)>& edit) {
  TensorMap t = read_safetensors(dir / "model.safetensors");
  edit(t);
  write_safetensors(dir / "model.safetensors", t);
}

void write_vocab(const fs::path& dir, std::int64_t entries, bool final_newline = true) {
  std::ofstream out(dir / "vocab.txt", std::ios::binary | std::ios::trunc);
  const char* specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (std::int64_t i = 0; i < entries; ++i) {
    if (i) out << "\n";
    if (i < 5)
      out << specials[i];
    else
      out << "tok" << i;
  }
  if (final_newline) out << "\n";
}

TEST(CheckpointConfig, LayerBeyondNumHiddenLayersIsAnErrorNamingFileAndTensor) {
  const fs::path dir = saved_model();
  edit_config(dir, [](Json& j) { j["num_hidden_layers"] = 1; });
  const std::string file = (dir / "model.safetensors").string();
  // The first unused tensor in the file's (sorted) order.
  expect_error([&] { load_model(dir); },
               {file + ": tensor bert.encoder.layer.1.attention.output.LayerNorm.bias is not used by config.json "
                       "(num_hidden_layers = 1)"});
  // The same holds for a checkpoint loaded for fine-tuning (new head allowed).
  LoadOptions options;
  options.allow_new_head = true;
  expect_error([&] { load_model(dir, options); }, {file + ": tensor bert.encoder.layer.1.", "(num_hidden_layers = 1)"});
}

TEST(CheckpointConfig, UnknownTensorIsAnError) {
  const fs::path dir = saved_model();
  edit_tensors(dir, [](TensorMap& t) {
    t["bert.encoder.layer.0.attention.self.distance_embedding.weight"] = at::zeros({4, 8});
  });
  expect_error([&] { load_model(dir); },
               {(dir / "model.safetensors").string() +
                ": tensor bert.encoder.layer.0.attention.self.distance_embedding.weight is not used by config.json"});
}

TEST(CheckpointConfig, TaskTypeEmbeddingsNeedUseTaskId) {
  const fs::path dir = saved_model();
  edit_tensors(dir, [](TensorMap& t) { t["bert.embeddings.task_type_embeddings.weight"] = at::zeros({3, 32}); });
  expect_error([&] { load_model(dir); },
               {"tensor bert.embeddings.task_type_embeddings.weight is not used by config.json "
                "(use_task_id = false)"});
}

TEST(CheckpointConfig, HeadOfAnotherTaskIsAnError) {
  const fs::path dir = saved_model();
  edit_tensors(dir, [](TensorMap& t) {
    t["qa_outputs.weight"] = at::zeros({2, 32});
    t["qa_outputs.bias"] = at::zeros({2});
  });
  expect_error([&] { load_model(dir); }, {"tensor qa_outputs.bias is not used by a seq_cls model"});
}

TEST(CheckpointConfig, ShapeMismatchAndMissingTensorStillNameTheTensor) {
  const fs::path dir = saved_model();
  edit_config(dir, [](Json& j) { j["intermediate_size"] = 48; });
  expect_error([&] { load_model(dir); },
               {(dir / "model.safetensors").string() + ": tensor '", "has shape [64, 32], config expects [48, 32]"});
  edit_config(dir, [](Json& j) {
    j["intermediate_size"] = 64;
    j["num_hidden_layers"] = 3;
  });
  expect_error([&] { load_model(dir); }, {"missing tensor 'bert.encoder.layer.2."});
}

// What a base checkpoint from the hub holds beside the encoder: the position_ids buffer, the MLM and NSP heads,
// and a pooler; a fine-tuning run loads it under a fresh head, with or without a pooler.
TEST(CheckpointConfig, PretrainedCheckpointExtrasLoadUnderEveryHead) {
  const fs::path dir = scratch_dir();
  TaskModel base = random_model(tiny_config(), TaskHead::None);
  save_model(dir, *base);
  edit_tensors(dir, [](TensorMap& t) {
    TensorMap prefixed;
    for (auto& [k, v] : t) prefixed["bert." + k] = v;  // BertForPreTraining spells the encoder with "bert."
    prefixed["bert.embeddings.position_ids"] = at::arange(64, at::kLong).view({1, 64});
    prefixed["cls.predictions.bias"] = at::zeros({100});
    prefixed["cls.predictions.transform.dense.weight"] = at::zeros({32, 32});
    prefixed["cls.predictions.transform.LayerNorm.gamma"] = at::ones({32});
    prefixed["cls.predictions.decoder.weight"] = at::zeros({100, 32});
    prefixed["cls.seq_relationship.weight"] = at::zeros({2, 32});
    prefixed["cls.seq_relationship.bias"] = at::zeros({2});
    t = prefixed;
  });
  edit_config(dir, [](Json& j) { j["architectures"] = Json::array({"BertForPreTraining"}); });

  LoadedModel bare = load_model(dir);
  EXPECT_EQ(bare.model->head(), TaskHead::None);
  EXPECT_TRUE(bare.unused_keys.empty()) << bare.unused_keys.front();
  EncoderInputs in = tiny_inputs();
  EXPECT_TRUE(at::equal(base->forward(in).pooled_output, bare.model->forward(in).pooled_output));

  for (TaskHead head : {TaskHead::SequenceClassification, TaskHead::TokenClassification, TaskHead::QuestionAnswering}) {
    LoadOptions options;
    options.head = head;
    options.allow_new_head = true;
    LoadedModel loaded = load_model(dir, options);
    EXPECT_FALSE(loaded.initialized_keys.empty()) << to_string(head);
    // token_cls and qa have no pooler: the checkpoint's is dropped, and listed.
    const bool pooler_dropped = !uses_pooler(head);
    EXPECT_EQ(loaded.unused_keys.size(), pooler_dropped ? 2u : 0u) << to_string(head);
    EXPECT_TRUE(at::equal(base->forward(in).sequence_output, loaded.model->forward(in).sequence_output));
  }
}

TEST(CheckpointConfig, TaskCheckpointLoadsAsABareEncoder) {
  const fs::path dir = saved_model(TaskHead::TokenClassification);
  LoadOptions options;
  options.head = TaskHead::None;
  expect_error([&] { load_model(dir, options); }, {"missing tensor 'bert.pooler.dense.weight'"});
  options.allow_new_head = true;  // the pooler is new; the classifier is dropped
  LoadedModel loaded = load_model(dir, options);
  EXPECT_EQ(loaded.unused_keys, (std::vector<std::string>{"classifier.bias", "classifier.weight"}));
}

TEST(CheckpointConfig, VocabWithMoreEntriesThanVocabSizeIsAnError) {
  const fs::path dir = saved_model();
  write_vocab(dir, 100);
  EXPECT_NO_THROW(load_model(dir));
  write_vocab(dir, 100, /*final_newline=*/false);
  EXPECT_EQ(count_vocab_entries(dir / "vocab.txt"), 100);
  EXPECT_NO_THROW(load_model(dir));
  write_vocab(dir, 101);
  EXPECT_EQ(count_vocab_entries(dir / "vocab.txt"), 101);
  expect_error([&] { load_model(dir); },
               {(dir / "vocab.txt").string() + ": 101 entries, more than config.json's vocab_size 100"});
  write_vocab(dir, 60);  // fewer entries than embedding rows is common (rows kept for padding): fine
  EXPECT_NO_THROW(load_model(dir));
}

TEST(CheckpointConfig, IdsOutsideTheEmbeddingAreOneLineErrors) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  EncoderInputs in = tiny_inputs();
  in.input_ids[0][3] = 100;
  expect_error([&] { model->forward(in); },
               {"input_ids holds token id 100, outside the embedding's 0..99 (config.json vocab_size 100)"});
  in.input_ids[0][3] = -1;
  expect_error([&] { model->forward(in); }, {"input_ids holds token id -1"});
  in = tiny_inputs();
  in.token_type_ids[1][2] = 2;  // a third segment: BERT has two token type rows
  expect_error([&] { model->forward(in); },
               {"token_type_ids holds 2, outside the embedding's 0..1 (config.json type_vocab_size 2)"});
}

}  // namespace
}  // namespace slimpipe::io
