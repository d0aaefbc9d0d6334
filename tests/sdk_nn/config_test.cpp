// EncoderConfig against config.json: field names, pruned_heads / per-layer widths, and one-line errors.
// No LibTorch here, so these run before any model code.
#include "slimpipe/nn/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace slimpipe::nn {
namespace {

const char* kBertBase = R"({
  "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 21128,
  "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
  "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
  "pad_token_id": 0, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
  "id2label": {"0": "neg", "1": "pos"}, "label2id": {"neg": 0, "pos": 1},
  "pruned_heads": {"3": [0, 5], "11": [1]}, "transformers_version": "4.26.1", "position_embedding_type": "absolute"
})";

std::string error_of(const Json& j) {
  try {
    EncoderConfig::from_json(j, "model/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EncoderConfig, ReadsTransformersFieldsAndPrunedHeads) {
  EncoderConfig c = EncoderConfig::from_json(Json::parse(kBertBase));
  EXPECT_EQ(c.vocab_size, 21128);
  EXPECT_EQ(c.head_dim(), 64);
  EXPECT_EQ(c.num_labels, 2);
  EXPECT_EQ(c.id2label.at(1), "pos");
  EXPECT_EQ(c.num_heads(3), 10);
  EXPECT_EQ(c.kept_heads(3), (std::vector<std::int64_t>{1, 2, 3, 4, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(c.num_heads(11), 11);
  EXPECT_EQ(c.num_heads(0), 12);
  EXPECT_EQ(c.extra.at("transformers_version"), "4.26.1");
}

TEST(EncoderConfig, JsonRoundTripKeepsEveryField) {
  EncoderConfig c = EncoderConfig::from_json(Json::parse(kBertBase));
  Json j = c.to_json();
  EXPECT_EQ(j.at("pruned_heads").at("3"), Json::parse("[0, 5]"));
  EXPECT_EQ(j.at("position_embedding_type"), "absolute");
  EXPECT_FALSE(j.contains("layer_intermediate_sizes"));
  EncoderConfig back = EncoderConfig::from_json(j);
  EXPECT_EQ(back.to_json(), j);
}

TEST(EncoderConfig, ErnieTaskTypeFields) {
  Json j = Json::parse(kBertBase);
  j["model_type"] = "ernie";
  j["use_task_id"] = true;
  j["task_type_vocab_size"] = 16;
  EncoderConfig c = EncoderConfig::from_json(j);
  EXPECT_TRUE(c.use_task_id);
  EXPECT_EQ(c.task_type_vocab_size, 16);
  EXPECT_EQ(c.to_json().at("use_task_id"), true);
}

TEST(EncoderConfig, UniformPrunedWidthIsWrittenAsIntermediateSize) {
  EncoderConfig c = EncoderConfig::from_json(Json::parse(kBertBase));
  for (std::int64_t l = 0; l < 12; ++l) c.set_layer_width(l, c.num_heads(l), 1536);
  Json j = c.to_json();
  EXPECT_EQ(j.at("intermediate_size"), 1536);
  EXPECT_FALSE(j.contains("layer_intermediate_sizes"));

  c.set_layer_width(4, 6, 768);  // widths differ now: the slimpipe list is needed
  j = c.to_json();
  ASSERT_TRUE(j.contains("layer_intermediate_sizes"));
  EXPECT_EQ(j["layer_intermediate_sizes"][4], 768);
  EncoderConfig back = EncoderConfig::from_json(j);
  EXPECT_EQ(back.intermediate_size_of(4), 768);
  EXPECT_EQ(back.intermediate_size_of(5), 1536);
  EXPECT_EQ(back.num_heads(4), 6);
  EXPECT_EQ(back.pruned_heads.at(4), (std::vector<std::int64_t>{6, 7, 8, 9, 10, 11}));
}

TEST(EncoderConfig, UnknownHiddenActIsOneLineError) {
  Json j = Json::parse(kBertBase);
  j["hidden_act"] = "swish2";
  EXPECT_EQ(error_of(j),
            "model/config.json: unknown hidden_act 'swish2' (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

TEST(EncoderConfig, HiddenSizeNotDivisibleByHeadsIsOneLineError) {
  Json j = Json::parse(kBertBase);
  j["hidden_size"] = 770;
  EXPECT_EQ(error_of(j), "model/config.json: hidden_size 770 is not divisible by num_attention_heads 12");
}

TEST(EncoderConfig, OtherBadValuesNameTheField) {
  Json j = Json::parse(kBertBase);
  j["num_hidden_layers"] = "12";
  EXPECT_EQ(error_of(j), "model/config.json: 'num_hidden_layers' must be an integer, found string");
  j = Json::parse(kBertBase);
  j["pruned_heads"] = {{"12", {0}}};
  EXPECT_EQ(error_of(j), "model/config.json: pruned_heads names layer 12, the model has 12 layers");
  j = Json::parse(kBertBase);
  j["position_embedding_type"] = "relative_key";
  EXPECT_EQ(error_of(j),
            "model/config.json: position_embedding_type \"relative_key\" is not supported (expected \"absolute\")");
  j = Json::parse(kBertBase);
  j["model_type"] = "roberta";
  EXPECT_EQ(error_of(j), "model/config.json: unsupported model_type 'roberta' (expected bert or ernie)");
}

TEST(EncoderConfig, MissingAndMalformedFiles) {
  std::filesystem::path dir = std::filesystem::path(SLIMPIPE_BINARY_DIR) / "tests" / "sdk_nn_tmp" / "config";
  std::filesystem::create_directories(dir);
  try {
    EncoderConfig::load(dir / "absent.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "absent.json").string() + ": file not found");
  }
  std::ofstream(dir / "bad.json") << "{\"hidden_size\": ";
  try {
    EncoderConfig::load(dir / "bad.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace slimpipe::nn
