// A pruned model saved by slimpipe (config.json with pruned_heads + model.safetensors) loads in an
// independent torch.nn BERT (pruned_bert_reference.py) and gives the same logits within 1e-4.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "pruning_test_support.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/pruning/reorder.hpp"
#include "slimpipe/pruning/width_config.hpp"

namespace slimpipe::pruning {
namespace {

using namespace pruning_test;
namespace fs = std::filesystem;

const char* kPython = "/usr/bin/python3";

class PythonReference : public ::testing::TestWithParam<nn::TaskHead> {
 protected:
  void SetUp() override {
    if (!fs::exists(kPython) || std::system((std::string(kPython) + " -c 'import torch' 2>/dev/null").c_str()) != 0)
      GTEST_SKIP() << kPython << " with torch is not available";
  }
};

TEST_P(PythonReference, PrunedCheckpointGivesTheSameLogits) {
  const nn::TaskHead head = GetParam();
  const auto config = tiny_config(2, 4);
  nn::TaskModel model = random_model(config, head, 17);
  // Reorder as DynaBERT does, then keep width 0.5 (2 of 4 heads, 32 of 64 neurons) in every layer.
  Importance imp;
  torch::manual_seed(5);
  imp.heads = torch::rand({2, 4});
  imp.neurons = {torch::rand({64}), torch::rand({64})};
  apply_reorder(*model, plan_reorder(*model, imp));
  const WidthConfig width = WidthConfig::for_model(config, 0.5);
  nn::TaskModel pruned = nn::prune(*model, width.heads, width.intermediate);
  pruned->eval();

  const fs::path dir = scratch_dir(std::string("pyref_") + nn::to_string(head));
  io::save_model(dir / "model", *pruned);
  std::ifstream config_file(dir / "model" / "config.json");
  const auto saved = nlohmann::json::parse(config_file);
  ASSERT_TRUE(saved.contains("pruned_heads")) << saved.dump();
  EXPECT_EQ(saved["pruned_heads"]["0"].size(), 2u);
  EXPECT_EQ(saved["intermediate_size"], 32);

  LabelledFeatures data(4, 9, config.vocab_size, 3, false, 9);
  Batch b = data.collate({0, 1, 2, 3});
  b.inputs.token_type_ids = (torch::arange(9) >= 5).to(torch::kLong).expand({4, 9}).contiguous();
  io::write_safetensors(dir / "inputs.safetensors", {{"input_ids", b.inputs.input_ids},
                                                     {"token_type_ids", b.inputs.token_type_ids},
                                                     {"attention_mask", b.inputs.attention_mask}});
  const std::string cmd = std::string(kPython) + " " + SLIMPIPE_SOURCE_DIR +
                          "/tests/pruning/pruned_bert_reference.py " + (dir / "model").string() + " " +
                          (dir / "inputs.safetensors").string() + " " + (dir / "logits.safetensors").string() + " > " +
                          (dir / "py.log").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const at::Tensor expected = io::read_safetensors(dir / "logits.safetensors").at("logits");
  torch::NoGradGuard no_grad;
  const at::Tensor got = pruned->forward(b.inputs).logits;
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LE(max_abs_diff(got, expected), 1e-4);
  EXPECT_GT(expected.abs().max().item<double>(), 0.1) << "logits too small to mean anything";
  // And slimpipe's own loader reads the folder back to the same function.
  io::LoadedModel loaded = io::load_model(dir / "model");
  EXPECT_LE(max_abs_diff(loaded.model->forward(b.inputs).logits, expected), 1e-4);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Heads, PythonReference,
                         ::testing::Values(nn::TaskHead::SequenceClassification, nn::TaskHead::TokenClassification,
                                           nn::TaskHead::QuestionAnswering),
                         [](const auto& info) { return std::string(nn::to_string(info.param)); });

}  // namespace
}  // namespace slimpipe::pruning
