// ONNX export structure: onnx.checker (python3-onnx, full check with shape inference) accepts the files, every
// Linear and attention MatMul passes through the emitter hooks, names stay unique, bad options fail clearly.
#include "slimpipe/export/onnx_export.hpp"

#include <map>

#include "export_test_support.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::exporter::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_onnx() {
  return ::access(kPython, X_OK) == 0 && std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

class OnnxChecker : public ::testing::TestWithParam<ModelCase> {};

TEST_P(OnnxChecker, FullCheckWithShapeInferencePasses) {
  if (!python_has_onnx()) GTEST_SKIP() << kPython << " cannot import onnx (install python3-onnx)";
  const ModelCase& c = GetParam();
  nn::TaskModel model = small_model(c);
  const std::filesystem::path dir = scratch_dir();
  OnnxExportOptions options;
  options.opset = c.opset;
  export_onnx(*model, dir / "model.onnx", options);
  // Also prints the inferred output shapes, so a lost dynamic axis shows up in the log.
  const std::string script =
      "import sys, onnx\n"
      "m = onnx.load(sys.argv[1])\n"
      "onnx.checker.check_model(m, full_check=True)\n"
      "inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)\n"
      "for o in inferred.graph.output:\n"
      "    print(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])\n";
  std::ofstream(dir / "check.py") << script;
  ASSERT_EQ(run_logged(
                std::string(kPython) + " '" + (dir / "check.py").string() + "' '" + (dir / "model.onnx").string() + "'",
                dir / "check.log"),
            0)
      << read_text(dir / "check.log");
}

INSTANTIATE_TEST_SUITE_P(
    Opsets, OnnxChecker,
    ::testing::Values(ModelCase{"SeqClsOpset13", nn::TaskHead::SequenceClassification, false, "gelu", false, 13},
                      ModelCase{"QaPrunedOpset14", nn::TaskHead::QuestionAnswering, true},
                      ModelCase{"TokenClsTanhOpset17", nn::TaskHead::TokenClassification, true, "gelu_new", true, 17}),
    [](const ::testing::TestParamInfo<ModelCase>& info) { return info.param.name; });

TEST(OnnxExport, EveryLinearAndAttentionMatMulGoesThroughTheEmitters) {
  nn::TaskModel model = small_model({"pruned", nn::TaskHead::SequenceClassification, true});
  std::vector<std::string> linears, matmuls;
  OnnxExportOptions options;
  options.linear = [&](OnnxGraphBuilder& g, const OnnxLinearSite& site) {
    linears.push_back(site.site);
    EXPECT_EQ(site.weight.dim(), 2);
    EXPECT_EQ(site.bias.size(0), site.weight.size(0));
    return emit_linear_fp32(g, site);
  };
  options.matmul = [&](OnnxGraphBuilder& g, const OnnxMatMulSite& site) {
    matmuls.push_back(site.site);
    return emit_matmul_fp32(g, site);
  };
  OnnxGraphBuilder graph("test", options.opset);
  build_onnx_graph(*model, graph, options);

  std::vector<std::string> expected_linears;
  for (const nn::LinearSite& site : nn::linear_sites(*model)) expected_linears.push_back(site.name);
  EXPECT_EQ(linears, expected_linears);  // forward order, as nn::linear_sites lists them
  EXPECT_EQ(matmuls, nn::matmul_sites(*model));
}

TEST(OnnxExport, PrunedLayerWeightsKeepTheirShapes) {
  nn::TaskModel model = small_model({"pruned", nn::TaskHead::TokenClassification, true});
  std::map<std::string, std::vector<std::int64_t>> shapes;
  OnnxExportOptions options;
  options.linear = [&](OnnxGraphBuilder& g, const OnnxLinearSite& site) {
    shapes[site.site] = site.weight.sizes().vec();
    return emit_linear_fp32(g, site);
  };
  OnnxGraphBuilder graph("test", options.opset);
  build_onnx_graph(*model, graph, options);
  EXPECT_EQ(shapes.at("encoder.layer.0.attention.self.query"), (std::vector<std::int64_t>{24, 32}));
  EXPECT_EQ(shapes.at("encoder.layer.1.attention.output.dense"), (std::vector<std::int64_t>{32, 16}));
  EXPECT_EQ(shapes.at("encoder.layer.0.intermediate.dense"), (std::vector<std::int64_t>{48, 32}));
  EXPECT_EQ(shapes.at("encoder.layer.1.output.dense"), (std::vector<std::int64_t>{32, 40}));
}

TEST(OnnxExport, UnsupportedOpsetIsRejected) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::SequenceClassification});
  OnnxExportOptions options;
  options.opset = 12;
  const std::filesystem::path file = scratch_dir() / "model.onnx";
  try {
    export_onnx(*model, file, options);
    FAIL() << "expected slimpipe::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("opset 12 is not supported"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(OnnxExport, UnwritablePathIsAnErrorNamingTheFile) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::QuestionAnswering});
  const std::filesystem::path file = scratch_dir() / "missing_dir" / "model.onnx";
  try {
    export_onnx(*model, file);
    FAIL() << "expected slimpipe::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": cannot open for writing: No such file or directory");
  }
}

TEST(OnnxGraphBuilder, NamesAreUniqueAcrossInitializersNodesAndInputs) {
  OnnxGraphBuilder graph("g", 14);
  graph.add_input("x", OnnxElementType::Float, {"batch", 4});
  EXPECT_EQ(graph.unique_name("x"), "x_1");
  EXPECT_EQ(graph.add_scalar("w", 1.0f), "w");
  EXPECT_EQ(graph.add_scalar("w", 2.0f), "w_1");
  EXPECT_EQ(graph.add("Add", {"x", "w"}, "w"), "w_2");
  EXPECT_THROW(graph.add_input("w", OnnxElementType::Float, {1}), Error);
  EXPECT_THROW(graph.add_output("nowhere", OnnxElementType::Float, {1}), Error);
  EXPECT_THROW(graph.add_initializer("half", at::ones({2}, at::kHalf)), Error);
  EXPECT_EQ(graph.num_nodes(), 1u);
  EXPECT_FALSE(graph.serialize().empty());
}

}  // namespace
}  // namespace slimpipe::exporter::testing
