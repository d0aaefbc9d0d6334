// Pruning, head masks, taps and quantization hooks on a tiny random model.
// The key property: masking heads with head_mask equals slicing them away.
#include "slimpipe/nn/prune.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "nn_test_support.hpp"

namespace slimpipe::nn {
namespace {

using namespace slimpipe::nn::testing;
constexpr double kTolerance = 1e-5;

TEST(Prune, HeadMaskZerosEqualSlicedHeads) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  EncoderInputs in = tiny_inputs();
  // Layer 0 keeps heads 0-2, layer 1 keeps heads 0-1.
  in.head_mask = at::tensor(std::vector<float>{1, 1, 1, 0, 1, 1, 0, 0}).view({2, 4});
  at::Tensor masked = model->forward(in).logits;

  TaskModel pruned = prune(*model, {3, 2}, {64, 64});
  EXPECT_EQ(pruned->config().pruned_heads, (std::map<std::int64_t, std::vector<std::int64_t>>{{0, {3}}, {1, {2, 3}}}));
  in.head_mask = at::Tensor();
  at::Tensor sliced = pruned->forward(in).logits;
  EXPECT_LE(max_abs_diff(masked, sliced), kTolerance);
  // And the mask matters at all.
  EXPECT_GT(max_abs_diff(masked, model->forward(in).logits), 1e-3);
}

TEST(Prune, PermutationThenSliceRemovesAnyHead) {
  TaskModel model = random_model(tiny_config(), TaskHead::TokenClassification);
  EncoderInputs in = tiny_inputs();
  at::Tensor before = model->forward(in).logits;

  // Move head 1 of layer 0 to the end: the output does not change...
  auto moved = std::dynamic_pointer_cast<TaskModelImpl>(model->clone());
  permute_heads(*moved->encoder->layer(0), {0, 2, 3, 1});
  permute_neurons(*moved->encoder->layer(1), [] {
    std::vector<std::int64_t> order(64);
    for (std::int64_t i = 0; i < 64; ++i) order[static_cast<std::size_t>(i)] = 63 - i;
    return order;
  }());
  EXPECT_LE(max_abs_diff(before, moved->forward(in).logits), kTolerance);

  // ...and slicing it off equals masking it.
  in.head_mask = at::tensor(std::vector<float>{1, 0, 1, 1}).view({4});
  in.head_mask = at::stack({in.head_mask, at::ones({4})});
  at::Tensor masked = model->forward(in).logits;
  in.head_mask = at::Tensor();
  TaskModel pruned = prune(*moved, {3, 4}, {64, 64});
  EXPECT_LE(max_abs_diff(masked, pruned->forward(in).logits), kTolerance);
}

TEST(Prune, SliceLayerKeepsFirstHeadsAndNeurons) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  EncoderLayer layer = model->encoder->layer(1);
  EncoderLayer small = slice_layer(*layer, 2, 16);
  EXPECT_EQ(small->num_heads(), 2);
  EXPECT_EQ(small->intermediate_size(), 16);
  EXPECT_EQ(small->attention->self->query->weight.sizes(), (std::vector<std::int64_t>{16, 32}));
  EXPECT_TRUE(at::equal(small->attention->self->query->weight, layer->attention->self->query->weight.narrow(0, 0, 16)));
  EXPECT_TRUE(at::equal(small->output->dense->weight, layer->output->dense->weight.narrow(1, 0, 16)));
  EXPECT_EQ(layer->num_heads(), 4) << "the source layer is untouched";

  // Swapping it into the encoder updates the config that clone() and save rebuild from.
  TaskModel copy = prune(*model, {4, 4}, {64, 64});
  copy->encoder->replace_layer(1, small);
  EXPECT_EQ(copy->config().num_heads(1), 2);
  EXPECT_EQ(copy->config().intermediate_size_of(1), 16);
  EncoderInputs in = tiny_inputs();
  at::Tensor expected = prune(*model, {4, 2}, {64, 16})->forward(in).logits;
  EXPECT_TRUE(at::equal(copy->forward(in).logits, expected));
  auto cloned = std::dynamic_pointer_cast<TaskModelImpl>(copy->clone());
  EXPECT_TRUE(at::equal(cloned->forward(in).logits, expected));
}

TEST(Prune, BadRequestsAreErrors) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  expect_error([&] { permute_heads(*model->encoder->layer(0), {0, 1, 1, 2}); }, {"permutation of 0..3"});
  expect_error([&] { slice_layer(*model->encoder->layer(0), 5, 64); }, {"cannot keep 5 heads of a layer with 4"});
  expect_error([&] { prune(*model, {4}, {64}); }, {"one head count and one FFN width per layer (2)"});
  EncoderInputs in = tiny_inputs();
  in.head_mask = at::ones({3, 4});
  expect_error([&] { model->forward(in); }, {"head_mask has shape [3, 4], expected [2, heads] or [heads]"});
}

TEST(Taps, EmbeddingOutputThenEveryLayer) {
  TaskModel model = random_model(tiny_config(), TaskHead::QuestionAnswering);
  EncoderOutput out = model->forward(tiny_inputs());
  ASSERT_EQ(out.taps.size(), 3u);
  EXPECT_TRUE(at::equal(out.taps.back(), out.sequence_output));
  EXPECT_TRUE(
      at::equal(out.taps[0], model->embeddings->forward(tiny_inputs().input_ids, tiny_inputs().token_type_ids)));
  EXPECT_FALSE(out.pooled_output.defined()) << "QA models have no pooler, as in transformers";
}

TEST(Sites, LinearAndMatmulSitesAreEnumeratedAndHooked) {
  TaskModel model = random_model(tiny_config(), TaskHead::SequenceClassification);
  std::vector<LinearSite> linears = linear_sites(*model);
  ASSERT_EQ(linears.size(), 2u * 6 + 2);
  EXPECT_EQ(linears.front().name, "encoder.layer.0.attention.self.query");
  EXPECT_EQ(linears[5].name, "encoder.layer.0.output.dense");
  EXPECT_EQ(linears.back().name, "classifier");
  EXPECT_EQ(linears.back().module.get(), model->classifier.get());
  std::vector<std::string> matmuls = matmul_sites(*model);
  EXPECT_EQ(matmuls,
            (std::vector<std::string>{"encoder.layer.0.attention.self.qk", "encoder.layer.0.attention.self.pv",
                                      "encoder.layer.1.attention.self.qk", "encoder.layer.1.attention.self.pv"}));

  // An identity hook sees both operands of every site and changes nothing.
  EncoderInputs in = tiny_inputs();
  std::set<std::pair<std::string, int>> seen;
  SiteHook record = [&](const std::string& site, int operand, const at::Tensor& v) {
    seen.insert({site, operand});
    return v;
  };
  EXPECT_TRUE(at::equal(model->forward(in, record).logits, model->forward(in).logits));
  std::set<std::pair<std::string, int>> expected;
  for (const auto& s : linears) expected.insert({s.name, 0}), expected.insert({s.name, 1});
  for (const auto& s : matmuls) expected.insert({s, 0}), expected.insert({s, 1});
  EXPECT_EQ(seen, expected);

  // A hook's result is what the op uses: a zeroed classifier weight leaves only the bias.
  SiteHook zero_classifier = [](const std::string& site, int operand, const at::Tensor& v) {
    return site == "classifier" && operand == kRightOperand ? at::zeros_like(v) : v;
  };
  at::Tensor logits = model->forward(in, zero_classifier).logits;
  EXPECT_TRUE(at::equal(logits, model->classifier->bias.expand_as(logits)));
}

}  // namespace
}  // namespace slimpipe::nn
