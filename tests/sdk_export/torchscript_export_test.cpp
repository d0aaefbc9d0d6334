// TorchScript export: model.pt reloads with torch::jit::load and reproduces TaskModel::forward (within 1e-5)
// for every head, full and pruned, at two sequence lengths; bad paths fail with one-line errors naming the file.
#include "slimpipe/export/torchscript_export.hpp"

#include <torch/script.h>

#include <iostream>

#include "export_test_support.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::exporter::testing {
namespace {

std::vector<at::Tensor> scripted_outputs(torch::jit::Module& module, const nn::EncoderInputs& in) {
  torch::NoGradGuard no_grad;
  c10::IValue out = module.forward({in.input_ids, in.token_type_ids, in.attention_mask});
  if (out.isTensor()) return {out.toTensor()};
  std::vector<at::Tensor> tensors;
  for (const c10::IValue& v : out.toTupleRef().elements()) tensors.push_back(v.toTensor());
  return tensors;
}

class TorchScriptExport : public ::testing::TestWithParam<ModelCase> {};

TEST_P(TorchScriptExport, ReloadedModuleReproducesTaskModelForward) {
  const ModelCase& c = GetParam();
  nn::TaskModel model = small_model(c);
  const std::filesystem::path file = scratch_dir() / "model.pt";
  export_torchscript(*model, file);

  torch::jit::Module loaded = torch::jit::load(file.string());
  EXPECT_FALSE(loaded.is_training());
  double worst = 0.0;
  for (const nn::EncoderInputs& in : {padded_inputs(7, 3, 31), padded_inputs(12, 5, 32)}) {
    const std::vector<at::Tensor> expected = reference_outputs(*model, in);
    const std::vector<at::Tensor> actual = scripted_outputs(loaded, in);
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j) {
      ASSERT_EQ(actual[j].sizes(), expected[j].sizes());
      worst = std::max(worst, max_abs_diff(actual[j], expected[j]));
    }
  }
  EXPECT_LE(worst, 1e-5);
  std::cout << "[ TorchScript vs LibTorch ] " << c.name << ": max abs diff " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Heads, TorchScriptExport,
                         ::testing::Values(ModelCase{"SeqClsFull", nn::TaskHead::SequenceClassification},
                                           ModelCase{"SeqClsPruned", nn::TaskHead::SequenceClassification, true},
                                           ModelCase{"TokenClsPruned", nn::TaskHead::TokenClassification, true},
                                           ModelCase{"QaFull", nn::TaskHead::QuestionAnswering},
                                           ModelCase{"QaPruned", nn::TaskHead::QuestionAnswering, true},
                                           ModelCase{"EncoderOnly", nn::TaskHead::None},
                                           ModelCase{"ErnieTaskIdsTanhGelu", nn::TaskHead::TokenClassification, false,
                                                     "gelu_new", true},
                                           ModelCase{"PrunedRelu", nn::TaskHead::SequenceClassification, true, "relu"}),
                         [](const ::testing::TestParamInfo<ModelCase>& info) { return info.param.name; });

// The artifact is meant for Python users too: torch.jit.load in python3-torch must run it unchanged.
TEST(TorchScriptExport, PythonTorchJitLoadRunsTheExportedModel) {
  if (::access("/usr/bin/python3", X_OK) != 0 || std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (install python3-torch)";
  nn::TaskModel model = small_model({"qa_pruned", nn::TaskHead::QuestionAnswering, true});
  const std::filesystem::path dir = scratch_dir();
  export_torchscript(*model, dir / "model.pt");
  std::vector<nn::EncoderInputs> calls{padded_inputs(7, 3, 41), padded_inputs(10, 2, 42)};
  nlohmann::json request{{"calls", nlohmann::json::array()}};
  for (const auto& in : calls) request["calls"].push_back(as_json(in));
  std::ofstream(dir / "inputs.json") << request.dump();
  const std::filesystem::path runner =
      std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "tests" / "sdk_export" / "run_torchscript.py";
  const std::string command = "/usr/bin/python3 '" + runner.string() + "' '" + (dir / "model.pt").string() + "' '" +
                              (dir / "inputs.json").string() + "' '" + (dir / "outputs.json").string() + "'";
  ASSERT_EQ(run_logged(command, dir / "python.log"), 0) << read_text(dir / "python.log");

  const nlohmann::json response = nlohmann::json::parse(read_text(dir / "outputs.json"));
  double worst = 0.0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::vector<at::Tensor> expected = reference_outputs(*model, calls[i]);
    const nlohmann::json& got = response.at("calls").at(i);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t j = 0; j < expected.size(); ++j) {
      at::Tensor actual = from_json(got.at(j));
      ASSERT_EQ(actual.sizes(), expected[j].sizes());
      worst = std::max(worst, max_abs_diff(actual, expected[j]));
    }
  }
  EXPECT_LE(worst, 1e-5);
  std::cout << "[ python torch.jit.load vs LibTorch ] qa_pruned: max abs diff " << worst << "\n";
}

TEST(TorchScriptExport, SourceBakesInPerLayerHeadCountsAndWidths) {
  nn::TaskModel model = small_model({"pruned", nn::TaskHead::SequenceClassification, true});
  const std::string source = torchscript_source(*model);
  EXPECT_NE(source.find("# layer 0: 3 heads, FFN width 48"), std::string::npos) << source;
  EXPECT_NE(source.find("# layer 1: 2 heads, FFN width 40"), std::string::npos) << source;
  EXPECT_NE(source.find(".view([b, s, 3, 8])"), std::string::npos) << source;
  EXPECT_NE(source.find(".view([b, s, 16])"), std::string::npos) << source;
}

TEST(TorchScriptExport, UnwritablePathIsAOneLineErrorNamingTheFile) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::SequenceClassification});
  const std::filesystem::path file = scratch_dir() / "missing_dir" / "model.pt";
  try {
    export_torchscript(*model, file);
    FAIL() << "expected slimpipe::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace slimpipe::exporter::testing
