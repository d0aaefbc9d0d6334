// ONNX export checked against ONNX Runtime (onnxruntime-node, run by run_onnx.js): the same padded batches,
// at two sequence lengths through one model file, must give TaskModel::forward's outputs within 1e-4.
#include <iostream>

#include "export_test_support.hpp"
#include "slimpipe/export/onnx_export.hpp"

namespace slimpipe::exporter::testing {
namespace {

const std::filesystem::path kOrtDir =
    std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "scripts" / "npm" / "node_modules" / "onnxruntime-node";
const std::filesystem::path kRunner =
    std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "tests" / "sdk_export" / "run_onnx.js";

class OnnxRuntimeOracle : public ::testing::TestWithParam<ModelCase> {};

TEST_P(OnnxRuntimeOracle, MatchesLibTorchOnPaddedBatchesAtTwoSequenceLengths) {
  const std::string node = find_on_path("node");
  if (node.empty()) GTEST_SKIP() << "node is not on PATH";
  if (!std::filesystem::exists(kOrtDir / "package.json"))
    GTEST_SKIP() << kOrtDir.string() << " is absent (run scripts/setup.sh)";

  const ModelCase& c = GetParam();
  nn::TaskModel model = small_model(c);
  const std::filesystem::path dir = scratch_dir();
  OnnxExportOptions options;
  options.opset = c.opset;
  export_onnx(*model, dir / "model.onnx", options);

  // Dynamic axes: one file serves both lengths; each batch pads its second row.
  std::vector<nn::EncoderInputs> calls{padded_inputs(7, 3, 21), padded_inputs(11, 4, 22)};
  nlohmann::json request{{"calls", nlohmann::json::array()}};
  for (const auto& in : calls) request["calls"].push_back(as_json(in));
  std::ofstream(dir / "inputs.json") << request.dump();

  const std::string command = "'" + node + "' '" + kRunner.string() + "' '" + kOrtDir.string() + "' '" +
                              (dir / "model.onnx").string() + "' '" + (dir / "inputs.json").string() + "' '" +
                              (dir / "outputs.json").string() + "'";
  ASSERT_EQ(run_logged(command, dir / "node.log"), 0) << read_text(dir / "node.log");
  const nlohmann::json response = nlohmann::json::parse(read_text(dir / "outputs.json"));
  EXPECT_EQ(response.at("inputNames"), nlohmann::json({"input_ids", "token_type_ids", "attention_mask"}));

  const std::vector<std::string> names = onnx_output_names(c.head);
  double worst = 0.0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::vector<at::Tensor> expected = reference_outputs(*model, calls[i]);
    const nlohmann::json& got = response.at("calls").at(i);
    ASSERT_EQ(got.size(), names.size());
    for (std::size_t j = 0; j < names.size(); ++j) {
      at::Tensor actual = from_json(got.at(names[j]));
      ASSERT_EQ(actual.sizes(), expected[j].sizes()) << names[j] << " of call " << i;
      const double diff = max_abs_diff(actual, expected[j]);
      EXPECT_LE(diff, 1e-4) << names[j] << " of call " << i;
      worst = std::max(worst, diff);
    }
  }
  std::cout << "[ ORT vs LibTorch ] " << c.name << ": max abs diff " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Heads, OnnxRuntimeOracle,
                         ::testing::Values(ModelCase{"SeqClsFull", nn::TaskHead::SequenceClassification},
                                           ModelCase{"SeqClsPruned", nn::TaskHead::SequenceClassification, true},
                                           ModelCase{"TokenClsFull", nn::TaskHead::TokenClassification},
                                           ModelCase{"TokenClsPruned", nn::TaskHead::TokenClassification, true},
                                           ModelCase{"QaFull", nn::TaskHead::QuestionAnswering},
                                           ModelCase{"QaPruned", nn::TaskHead::QuestionAnswering, true},
                                           ModelCase{"EncoderOnlyPruned", nn::TaskHead::None, true},
                                           ModelCase{"ErnieTaskIdsTanhGeluOpset17",
                                                     nn::TaskHead::SequenceClassification, false, "gelu_new", true, 17},
                                           ModelCase{"TokenClsPrunedReluOpset13", nn::TaskHead::TokenClassification,
                                                     true, "relu", false, 13}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) { return info.param.name; });

}  // namespace
}  // namespace slimpipe::exporter::testing
