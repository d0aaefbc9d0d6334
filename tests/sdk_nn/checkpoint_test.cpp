// Checkpoint round trips and the one-line errors for bad model directories.
// Every error test starts from a good directory written by save_model and breaks one thing.
#include "slimpipe/io/checkpoint.hpp"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <fstream>

#include "nn_test_support.hpp"
#include "slimpipe/io/pytorch_bin.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/nn/device.hpp"
#include "slimpipe/nn/prune.hpp"

namespace slimpipe::io {
namespace {

using namespace slimpipe::nn;
using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

fs::path saved_model(TaskHead head = TaskHead::SequenceClassification) {
  fs::path dir = scratch_dir("_model");
  save_model(dir, *random_model(tiny_config(), head), {});
  return dir;
}

void write_raw_safetensors(const fs::path& file, const std::string& header, const std::string& data) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
}

TEST(Checkpoint, SafetensorsRoundTripGivesBitIdenticalLogits) {
  for (TaskHead head : {TaskHead::SequenceClassification, TaskHead::TokenClassification, TaskHead::QuestionAnswering}) {
    TaskModel model = random_model(tiny_config(), head);
    fs::path dir = scratch_dir(to_string(head));
    save_model(dir, *model);
    LoadedModel loaded = load_model(dir);
    EXPECT_EQ(loaded.model->head(), head);
    EXPECT_TRUE(loaded.unused_keys.empty());
    EncoderInputs in = tiny_inputs();
    EXPECT_TRUE(at::equal(model->forward(in).logits, loaded.model->forward(in).logits)) << to_string(head);
  }
}

TEST(Checkpoint, PrunedModelSavesAsTransformersPrunedHeads) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  TaskModel pruned = prune(*model, {3, 2}, {40, 40});
  fs::path dir = scratch_dir();
  save_model(dir, *pruned);
  Json j = Json::parse(std::ifstream(dir / "config.json"));
  EXPECT_EQ(j.at("num_attention_heads"), 4);
  EXPECT_EQ(j.at("pruned_heads"), Json::parse(R"({"0": [3], "1": [2, 3]})"));
  EXPECT_EQ(j.at("intermediate_size"), 40);
  EXPECT_FALSE(j.contains("layer_intermediate_sizes"));
  EXPECT_EQ(j.at("architectures"), Json::parse(R"(["BertForSequenceClassification"])"));
  TensorMap t = read_safetensors(dir / "model.safetensors");
  EXPECT_EQ(t.at("bert.encoder.layer.1.attention.self.query.weight").sizes(), (std::vector<std::int64_t>{16, 32}));
  EXPECT_EQ(t.at("bert.encoder.layer.1.attention.output.dense.weight").sizes(), (std::vector<std::int64_t>{32, 16}));

  LoadedModel loaded = load_model(dir);
  EncoderInputs in = tiny_inputs();
  EXPECT_TRUE(at::equal(pruned->forward(in).logits, loaded.model->forward(in).logits));
}

TEST(Checkpoint, DifferingLayerWidthsRoundTrip) {
  TaskModel pruned = prune(*random_model(tiny_config(), TaskHead::TokenClassification), {4, 1}, {64, 16});
  fs::path dir = scratch_dir();
  save_model(dir, *pruned);
  Json j = Json::parse(std::ifstream(dir / "config.json"));
  EXPECT_EQ(j.at("layer_intermediate_sizes"), Json::parse("[64, 16]"));
  LoadedModel loaded = load_model(dir);
  EncoderInputs in = tiny_inputs();
  EXPECT_TRUE(at::equal(pruned->forward(in).logits, loaded.model->forward(in).logits));
}

TEST(Checkpoint, BareEncoderHasNoPrefixAndTokenizerFilesAreWritten) {
  TaskModel model = random_model(tiny_config(), TaskHead::None);
  fs::path dir = scratch_dir();
  SaveOptions opts;
  opts.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"};
  opts.tokenizer_config = {{"do_lower_case", true}};
  save_model(dir, *model, opts);
  TensorMap t = read_safetensors(dir / "model.safetensors");
  EXPECT_TRUE(t.count("encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(t.count("pooler.dense.weight"));
  std::ifstream vocab(dir / "vocab.txt");
  std::string first;
  std::getline(vocab, first);
  EXPECT_EQ(first, "[PAD]");
  EXPECT_EQ(Json::parse(std::ifstream(dir / "tokenizer_config.json")).at("do_lower_case"), true);

  fs::path copy = scratch_dir("_copy");
  SaveOptions from_dir;
  from_dir.tokenizer_dir = dir;
  save_model(copy, *model, from_dir);
  EXPECT_TRUE(fs::exists(copy / "vocab.txt"));
  EXPECT_TRUE(fs::exists(copy / "tokenizer_config.json"));
}

TEST(Checkpoint, SafetensorsKeepsDtypesBitExact) {
  at::manual_seed(3);
  TensorMap in = {{"f32", at::randn({3, 5})},
                  {"f16", at::randn({4}).to(at::kHalf)},
                  {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
                  {"i64", at::arange(10, at::kLong).view({2, 5})},
                  {"strided", at::randn({4, 6}).t()},
                  {"empty", at::empty({0, 3})}};
  fs::path file = scratch_dir() / "t.safetensors";
  write_safetensors(file, in);
  TensorMap out = read_safetensors(file);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [k, v] : in) {
    EXPECT_EQ(out.at(k).scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(at::equal(out.at(k), v)) << k;
  }
}

TEST(CheckpointErrors, MissingConfig) {
  fs::path dir = saved_model();
  fs::remove(dir / "config.json");
  expect_error([&] { load_model(dir); }, {(dir / "config.json").string() + ": file not found"});
}

TEST(CheckpointErrors, MissingWeights) {
  fs::path dir = saved_model();
  fs::remove(dir / "model.safetensors");
  expect_error([&] { load_model(dir); }, {dir.string() + ": no model.safetensors or pytorch_model.bin"});
}

TEST(CheckpointErrors, TruncatedSafetensors) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  fs::resize_file(file, fs::file_size(file) - 100);
  expect_error([&] { load_model(dir); }, {file.string() + ": truncated: header describes", "bytes of tensor data"});
  fs::resize_file(file, 5);
  expect_error([&] { load_model(dir); }, {file.string() + ": truncated: 5 bytes"});
  write_raw_safetensors(file, "{}", "");
  fs::resize_file(file, 9);
  expect_error([&] { load_model(dir); }, {file.string() + ": truncated: header length says 2 bytes, file has 1"});
}

TEST(CheckpointErrors, SafetensorsHeaderNotJson) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  write_raw_safetensors(file, "this is not json", "");
  expect_error([&] { load_model(dir); }, {file.string() + ": bad header: not JSON"});
}

TEST(CheckpointErrors, SafetensorsOffsetsOutOfRange) {
  fs::path file = scratch_dir() / "model.safetensors";
  write_raw_safetensors(file, R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}})",
                        std::string(16, '\0'));
  expect_error([&] { read_safetensors(file); },
               {file.string() + ": tensor 'w': bad header: data_offsets [0, 8] do not hold F32 [2, 2] (16 bytes)"});
  write_raw_safetensors(file, R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [12, 4]}})",
                        std::string(16, '\0'));
  expect_error([&] { read_safetensors(file); }, {"tensor 'w': bad header: data_offsets [12, 4]"});
  write_raw_safetensors(file, R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})",
                        std::string(16, '\0'));
  expect_error([&] { read_safetensors(file); }, {"truncated: header describes 24 bytes of tensor data, file has 16"});
}

TEST(CheckpointErrors, WrongDtype) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  TensorMap t = read_safetensors(file);
  const std::string key = "bert.encoder.layer.0.attention.self.key.weight";
  t[key] = t[key].to(at::kLong);
  write_safetensors(file, t);
  expect_error([&] { load_model(dir); },
               {file.string() + ": tensor '" + key + "' has dtype Long, expected a floating-point dtype"});
  // A dtype safetensors defines but slimpipe does not read.
  write_raw_safetensors(file, R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})", "ab");
  expect_error([&] { load_model(dir); }, {file.string() + ": tensor 'w' has unsupported dtype 'F8_E4M3'"});
}

TEST(CheckpointErrors, WrongShapeNamesTensorExpectedAndFound) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  TensorMap t = read_safetensors(file);
  const std::string key = "bert.encoder.layer.1.attention.self.query.weight";
  t[key] = t[key].narrow(0, 0, 16);
  write_safetensors(file, t);
  expect_error([&] { load_model(dir); },
               {file.string() + ": tensor '" + key + "' has shape [16, 32], config expects [32, 32]"});
}

TEST(CheckpointErrors, MissingTensor) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  TensorMap t = read_safetensors(file);
  t.erase("bert.encoder.layer.1.output.LayerNorm.bias");
  write_safetensors(file, t);
  expect_error([&] { load_model(dir); },
               {file.string() + ": missing tensor 'bert.encoder.layer.1.output.LayerNorm.bias'"});
}

TEST(CheckpointErrors, MissingHeadIsAllowedOnlyWhenAsked) {
  fs::path dir = saved_model();
  fs::path file = dir / "model.safetensors";
  TensorMap t = read_safetensors(file);
  t.erase("classifier.weight");
  t.erase("classifier.bias");
  write_safetensors(file, t);
  expect_error([&] { load_model(dir); }, {"missing tensor 'classifier.weight'"});
  LoadOptions opts;
  opts.allow_new_head = true;
  LoadedModel loaded = load_model(dir, opts);
  EXPECT_EQ(loaded.initialized_keys, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
}

TEST(CheckpointErrors, UnknownHiddenAct) {
  fs::path dir = saved_model();
  Json j = Json::parse(std::ifstream(dir / "config.json"));
  j["hidden_act"] = "swish2";
  std::ofstream(dir / "config.json") << j.dump();
  expect_error([&] { load_model(dir); }, {(dir / "config.json").string() + ": unknown hidden_act 'swish2'"});
}

TEST(CheckpointErrors, HiddenSizeHeadsMismatch) {
  fs::path dir = saved_model();
  Json j = Json::parse(std::ifstream(dir / "config.json"));
  j["num_attention_heads"] = 5;
  std::ofstream(dir / "config.json") << j.dump();
  expect_error([&] { load_model(dir); },
               {(dir / "config.json").string() + ": hidden_size 32 is not divisible by num_attention_heads 5"});
}

TEST(CheckpointErrors, CorruptPytorchBin) {
  fs::path file = scratch_dir() / "pytorch_model.bin";
  std::ofstream(file) << "definitely not a pickle";
  expect_error([&] { read_pytorch_bin(file); },
               {file.string() + ": not a torch.save file (no zip archive and no legacy magic number)"});
  // A real zip-format file cut short.
  const Reference& ref = Reference::get();
  if (!ref.dir.empty()) {
    const fs::path good = ref.dir / "seq_cls" / "bin" / "pytorch_model.bin";
    fs::copy_file(good, file, fs::copy_options::overwrite_existing);
    fs::resize_file(file, fs::file_size(file) / 2);
    expect_error([&] { read_pytorch_bin(file); }, {file.string() + ": not a readable torch.save zip archive"});
  }
  expect_error([&] { read_pytorch_bin(file.parent_path() / "absent.bin"); }, {"absent.bin: file not found"});
}

TEST(Device, UnavailableDevicesAreOneLineErrors) {
  EXPECT_EQ(resolve_device("cpu"), c10::Device(c10::kCPU));
  expect_error([] { resolve_device("tpu"); }, {"unknown device 'tpu' (expected cpu, cuda or cuda:N)"});
  if (!torch::cuda::is_available())
    expect_error([] { resolve_device("cuda"); }, {"device 'cuda' requested, but CUDA is not available"});
}

}  // namespace
}  // namespace slimpipe::io
