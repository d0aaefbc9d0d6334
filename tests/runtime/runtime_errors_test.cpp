// slimpipe_runtime's errors on models exported from LibTorch and then broken: missing and corrupt files, bad
// inputs, a missing weight threshold, overflowing sizes; each is one line naming the file or the input. NaN weights
// give NaN logits.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime_test_support.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
using namespace slimpipe::runtime_test;
namespace rt = slimpipe_runtime;

// Every message is one line and names the file.
void expect_load_error(const fs::path& dir, const std::string& fragment) {
  try {
    rt::Model::load(dir);
    FAIL() << "loaded " << dir;
  } catch (const rt::Error& e) {
    const std::string msg = e.what();
    std::cout << "[ error ] " << msg << "\n";
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(RuntimeErrors, MissingAndCorruptFilesGiveOneLineErrors) {
  Case c{"errors", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path base = scratch("errors");
  expect_load_error(base / "absent", "absent: not a folder");
  expect_load_error(base, "runtime.json: not found");

  auto fresh = [&](const std::string& name) {
    fs::path d = base / name;
    exporter::export_runtime(*model, d);
    // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
    fs::remove(d / exporter::kPackageJson);
    return d;
  };
  fs::path d = fresh("bad_json");
  { std::ofstream(d / "runtime.json") << "{\"format\": \"slimpipe-runtime\", "; }
  expect_load_error(d, "runtime.json: not valid JSON");

  d = fresh("truncated");
  fs::resize_file(d / "weights.bin", fs::file_size(d / "weights.bin") - 100);
  expect_load_error(d, "weights.bin: ");

  d = fresh("no_weights");
  fs::remove(d / "weights.bin");
  expect_load_error(d, "weights.bin: cannot open");

  auto edit = [&](const std::string& name, auto&& change) {
    fs::path e = fresh(name);
    nlohmann::json j = nlohmann::json::parse(std::ifstream(e / "runtime.json"));
    change(j);
    std::ofstream(e / "runtime.json") << j.dump();
    return e;
  };
  d = edit("shape", [](nlohmann::json& j) { j["hidden_size"] = 48; });
  expect_load_error(d, "expected f32 [");
  d = edit("version", [](nlohmann::json& j) { j["version"] = 99; });
  expect_load_error(d, "format version 99");
  d = edit("format", [](nlohmann::json& j) { j["format"] = "onnx"; });
  expect_load_error(d, "not a slimpipe runtime model");
  d = edit("outside", [](nlohmann::json& j) { j["tensors"][0]["offset"] = 1ull << 40; });
  expect_load_error(d, "lies outside weights.bin");
  d = edit("layers", [](nlohmann::json& j) { j["layers"][1]["num_heads"] = 3; });
  expect_load_error(d, "encoder.layer.1.attention.self.query.bias is f32 [32], expected f32 [24]");
  d = edit("missing", [](nlohmann::json& j) {
    auto& t = j["tensors"];
    for (auto it = t.begin(); it != t.end(); ++it)
      if ((*it)["name"] == "classifier.bias") {
        t.erase(it);
        break;
      }
  });
  expect_load_error(d, "tensor classifier.bias is missing");
  d = edit("act", [](nlohmann::json& j) { j["hidden_act"] = "swish"; });
  expect_load_error(d, "hidden_act 'swish'");
}

TEST(RuntimeErrors, BadInputsGiveOneLineErrors) {
  Case c{"inputs", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path dir = scratch("inputs");
  exporter::export_runtime(*model, dir);
  rt::Model m = rt::Model::load(dir);
  auto expect_error = [&](auto&& call, const std::string& fragment) {
    try {
      call();
      FAIL() << "no error, expected " << fragment;
    } catch (const rt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  };
  std::vector<std::int64_t> ids{1, 2, 3, 4}, ones(4, 1), zeros(4, 0);
  expect_error([&] { m.run(ids, zeros, ones, 2, 3); }, "input_ids has 4 values, expected batch*seq = 6");
  expect_error(
      [&] {
        m.run({1, 2, 300, 4}, zeros, ones, 2, 2);
      },
      "input_ids[1][0] = 300 is outside the vocabulary [0, 100)");
  expect_error([&] { m.run(ids, {0, 0, 2, 0}, ones, 2, 2); }, "token_type_ids[1][0] = 2, expected 0..1");
  expect_error([&] { m.run(ids, zeros, {1, 1, 1, 5}, 2, 2); }, "attention_mask[1][1] = 5, expected 0 or 1");
  std::vector<std::int64_t> long_ids(65, 1);
  expect_error([&] { m.run(long_ids, {}, {}, 1, 65); }, "seq 65 exceeds max_position_embeddings 64");
  // Null token types and mask mean zeros and ones, as in TaskModel::forward.
  const auto& out = m.run(ids.data(), nullptr, nullptr, 2, 2);
  std::vector<float> a(out.logits, out.logits + out.logits_size());
  const auto& out2 = m.run(ids, zeros, ones, 2, 2);
  EXPECT_EQ(a, std::vector<float>(out2.logits, out2.logits + out2.logits_size()));
}

// An i8 weight without its weight_threshold tensor: a one-line error (it was dereferenced as found; found by
// fuzz_runtime_model).
TEST(RuntimeErrors, Int8WeightWithoutThresholdIsAnError) {
  Case c{"no_threshold", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path d = scratch("no_threshold");
  exporter::export_runtime(*model, calibrate(*model, {make_inputs(2, 8, 1)}), d);
  // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
  fs::remove(d / exporter::kPackageJson);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "runtime.json"));
  auto& t = j["tensors"];
  const std::string site = "encoder.layer.0.intermediate.dense";
  bool removed = false;
  for (auto it = t.begin(); it != t.end(); ++it)
    if ((*it)["name"] == site + ".weight_threshold") {
      t.erase(it);
      removed = true;
      break;
    }
  ASSERT_TRUE(removed) << "the export has no " << site << ".weight_threshold";
  std::ofstream(d / "runtime.json") << j.dump();
  expect_load_error(d,
                    "tensor " + site + ".weight_threshold is missing (expected f32 [64] or [1] beside the i8 weight)");
}

// Sizes from runtime.json whose products overflow int64 (UB, found by fuzz_runtime_model): one-line errors.
TEST(RuntimeErrors, OverflowingSizesAreErrors) {
  Case c{"overflow", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path base = scratch("overflow");
  auto edit = [&](const std::string& name, auto&& change) {
    const fs::path d = base / name;
    exporter::export_runtime(*model, d);
    // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
    fs::remove(d / exporter::kPackageJson);
    nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "runtime.json"));
    change(j);
    std::ofstream(d / "runtime.json") << j.dump();
    return d;
  };
  const std::int64_t big = std::int64_t(1) << 32;
  fs::path d = edit("shape", [&](nlohmann::json& j) { j["tensors"][0]["shape"] = {big, big}; });
  expect_load_error(d, "has shape [4294967296, 4294967296], too large");
  d = edit("heads", [&](nlohmann::json& j) { j["layers"][0]["num_heads"] = std::int64_t(1) << 62; });
  expect_load_error(d, "runtime.json: layer 0 has 4611686018427387904 heads of 8, too many");
}

// A NaN in the weights (a corrupt or diverged model) gives NaN logits, never plausible numbers, and no undefined
// behaviour on the way: the activations' exp once converted NaN to an integer (found by fuzz_runtime_model, an
// abort under scripts/sanitize.sh). gelu uses erf, gelu_new tanh; the seq_cls pooler's tanh sees the NaN too.
TEST(RuntimeErrors, NanWeightsGiveNanLogits) {
  for (const char* act : {"gelu", "gelu_new"}) {
    Case c{"nan", nn::TaskHead::SequenceClassification, act};
    nn::TaskModel model = make_model(c);
    {
      at::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key() == "encoder.layer.0.intermediate.dense.bias")
          p.value()[0] = std::numeric_limits<float>::quiet_NaN();
    }
    const fs::path dir = scratch(std::string("nan_") + act);
    exporter::export_runtime(*model, dir);
    rt::Model m = rt::Model::load(dir);
    std::vector<std::int64_t> ids{1, 2, 3, 4}, ones(4, 1), zeros(4, 0);
    const auto& out = m.run(ids, zeros, ones, 2, 2);
    for (std::int64_t i = 0; i < out.logits_size(); ++i)
      EXPECT_TRUE(std::isnan(out.logits[i])) << act << " logit " << i;
  }
}

}  // namespace
