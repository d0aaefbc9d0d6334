// QDQ INT8 export (model.int8.onnx) checked against quant::make_fake_quant_hook run through TaskModel::forward:
// ONNX Runtime (onnxruntime-node via run_onnx.js) must compute the fake-quantized outputs, python3-onnx's checker
// must accept the graph with one QuantizeLinear/DequantizeLinear pair per planned operand, int8 weights must
// shrink the file, and plans the export cannot express must fail with one-line errors.
#include "slimpipe/export/qdq_export.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "export_test_support.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"

namespace slimpipe::exporter::testing {
namespace {

const std::filesystem::path kOrtDir =
    std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "scripts" / "npm" / "node_modules" / "onnxruntime-node";
const std::filesystem::path kRunner =
    std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "tests" / "sdk_export" / "run_onnx.js";
constexpr const char* kPython = "/usr/bin/python3";

struct QdqCase {
  std::string name;
  ModelCase model;
  quant::WeightQuantType weights = quant::WeightQuantType::ChannelWiseAbsMax;
  bool skips = false;  // leave some operands and weights in fp32, as a skip list does
};
void PrintTo(const QdqCase& c, std::ostream* os) { *os << c.name; }

std::string head_site(nn::TaskHead head) {
  return head == nn::TaskHead::QuestionAnswering ? "qa_outputs" : "classifier";
}

// abs_max thresholds of every activation operand over four padded batches, round-to-nearest int8 weights for
// every Linear; with skips, the second layer's QK^T operands, the head's input and weight, and one FFN weight
// are left out.
quant::FakeQuantPlan calibrated_plan(nn::TaskModelImpl& model, const QdqCase& c) {
  quant::CalibrationObservers observers(quant::activation_operands(model), "abs_max");
  {
    at::NoGradGuard no_grad;
    for (int i = 0; i < 4; ++i) model.forward(padded_inputs(8 + i, 1 + i, 100 + i), observers.hook());
  }
  quant::FakeQuantPlan plan;
  plan.activation_thresholds = observers.thresholds();
  for (const nn::LinearSite& site : nn::linear_sites(model))
    plan.weights[site.name] = quant::quantize_weight(site.module->weight, c.weights);
  if (c.skips) {
    plan.activation_thresholds.erase({"encoder.layer.1.attention.self.qk", nn::kLeftOperand});
    plan.activation_thresholds.erase({"encoder.layer.1.attention.self.qk", nn::kRightOperand});
    plan.activation_thresholds.erase({head_site(c.model.head), nn::kLeftOperand});
    plan.weights.erase(head_site(c.model.head));
    plan.weights.erase("encoder.layer.0.intermediate.dense");
  }
  return plan;
}

// A case's model, its calibrated plan, and the plan exported to <scratch dir>/model.int8.onnx.
struct ExportedCase {
  nn::TaskModel model{nullptr};
  quant::FakeQuantPlan plan;
  std::filesystem::path file;
};

ExportedCase export_case(const QdqCase& c) {
  ExportedCase out;
  out.model = small_model(c.model);
  out.plan = calibrated_plan(*out.model, c);
  out.file = scratch_dir() / "model.int8.onnx";
  OnnxExportOptions options;
  options.opset = c.model.opset;
  export_qdq_onnx(*out.model, out.plan, out.file, options);
  return out;
}

std::string ort_unavailable() {
  if (find_on_path("node").empty()) return "node is not on PATH";
  if (!std::filesystem::exists(kOrtDir / "package.json")) return kOrtDir.string() + " is absent (run scripts/setup.sh)";
  return "";
}

// Runs `model_file` in ONNX Runtime on every call; the response is run_onnx.js's outputs JSON.
void run_ort(const std::filesystem::path& model_file, const std::vector<nn::EncoderInputs>& calls,
             nlohmann::json& response) {
  const std::filesystem::path dir = model_file.parent_path();
  nlohmann::json request{{"calls", nlohmann::json::array()}};
  for (const auto& in : calls) request["calls"].push_back(as_json(in));
  std::ofstream(dir / "inputs.json") << request.dump();
  const std::string command = "'" + find_on_path("node") + "' '" + kRunner.string() + "' '" + kOrtDir.string() + "' '" +
                              model_file.string() + "' '" + (dir / "inputs.json").string() + "' '" +
                              (dir / "outputs.json").string() + "'";
  ASSERT_EQ(run_logged(command, dir / "node.log"), 0) << read_text(dir / "node.log");
  response = nlohmann::json::parse(read_text(dir / "outputs.json"));
}

// How closely ORT's outputs follow the fake-quant reference, over all outputs of all calls.
struct Agreement {
  static constexpr double kClose = 1e-4;
  double max_diff = 0.0;                   // max |ort - fake quant|
  double scale = 0.0;                      // max |fake quant|: the logit scale
  double quant_effect = 0.0;               // max |fp32 - fake quant|: what quantization changes
  std::int64_t close = 0, fp32_close = 0;  // elements of ORT's / the fp32 model's outputs within kClose
  std::int64_t total = 0;

  void add(const at::Tensor& ort, const at::Tensor& fake_quant, const at::Tensor& fp32) {
    const at::Tensor reference = fake_quant.to(at::kDouble);
    const at::Tensor diff = (ort.to(at::kDouble) - reference).abs();
    const at::Tensor fp32_diff = (fp32.to(at::kDouble) - reference).abs();
    max_diff = std::max(max_diff, diff.max().item<double>());
    scale = std::max(scale, reference.abs().max().item<double>());
    quant_effect = std::max(quant_effect, fp32_diff.max().item<double>());
    close += (diff <= kClose).sum().item<std::int64_t>();
    fp32_close += (fp32_diff <= kClose).sum().item<std::int64_t>();
    total += diff.numel();
  }
  static double fraction(std::int64_t n, std::int64_t of) { return of ? static_cast<double>(n) / of : 0.0; }
};

class QdqOnnxRuntimeOracle : public ::testing::TestWithParam<QdqCase> {};

TEST_P(QdqOnnxRuntimeOracle, MatchesTheFakeQuantHookOnPaddedBatches) {
  if (std::string why = ort_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const QdqCase& c = GetParam();
  ExportedCase exported = export_case(c);
  nn::TaskModelImpl& model = *exported.model;

  // Not the calibration batches: as in deployment, values beyond a threshold are clipped (-128 / 127).
  std::vector<nn::EncoderInputs> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(padded_inputs(7 + 2 * i, 1 + i % 3, 31 + i));
  nlohmann::json response;
  run_ort(exported.file, calls, response);
  if (HasFatalFailure()) return;

  const nn::SiteHook hook = quant::make_fake_quant_hook(exported.plan);
  const std::vector<std::string> names = onnx_output_names(c.model.head);
  Agreement agreement;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::vector<at::Tensor> fake_quant = reference_outputs(model, calls[i], hook);
    const std::vector<at::Tensor> fp32 = reference_outputs(model, calls[i]);
    for (std::size_t j = 0; j < names.size(); ++j) {
      const at::Tensor ort = from_json(response.at("calls").at(i).at(names[j]));
      ASSERT_EQ(ort.sizes(), fake_quant[j].sizes()) << names[j] << " of call " << i;
      agreement.add(ort, fake_quant[j], fp32[j]);
    }
  }
  std::cout << "[ QDQ ORT vs fake-quant hook ] " << c.name << ": within " << Agreement::kClose << ": "
            << agreement.close << "/" << agreement.total << ", max abs diff " << agreement.max_diff << " (logit scale "
            << agreement.scale << "); fp32 model vs fake-quant: within " << Agreement::kClose << ": "
            << agreement.fp32_close << "/" << agreement.total << ", max abs diff " << agreement.quant_effect << "\n";
  // ORT and LibTorch sum in different orders (and ORT may run the int8 kernels), so a value that lands within
  // float rounding of a .5 level boundary can round the other way: that value then moves by one step T/127 and
  // the change spreads through the rest of its sequence. Everything else agrees to float rounding (observed
  // <= 7.2e-7). So: nearly all elements within 1e-4 (a flip disturbs at most its own sequence; the longest holds
  // 17 of the 144 positions here, 12%), and the rest within a few quantization steps' effect on the logits (5% of
  // their scale).
  EXPECT_GE(Agreement::fraction(agreement.close, agreement.total), 0.85);
  EXPECT_LE(agreement.max_diff, 0.05 * agreement.scale);
  // The criterion tells quantized from fp32: the fp32 model's outputs are far from meeting it.
  EXPECT_LE(Agreement::fraction(agreement.fp32_close, agreement.total), 0.5);
}

const QdqCase kCases[] = {
    {"SeqClsPerChannel", {"seq_cls", nn::TaskHead::SequenceClassification}},
    {"SeqClsPerTensor", {"seq_cls", nn::TaskHead::SequenceClassification}, quant::WeightQuantType::AbsMax},
    {"TokenClsPerChannel", {"token_cls", nn::TaskHead::TokenClassification}},
    {"TokenClsPerTensor", {"token_cls", nn::TaskHead::TokenClassification}, quant::WeightQuantType::AbsMax},
    {"QaPerChannel", {"qa", nn::TaskHead::QuestionAnswering}},
    {"QaPerTensor", {"qa", nn::TaskHead::QuestionAnswering}, quant::WeightQuantType::AbsMax},
    {"SeqClsPrunedSkipsOpset13",
     {"seq_cls", nn::TaskHead::SequenceClassification, true, "gelu", false, 13},
     quant::WeightQuantType::ChannelWiseAbsMax,
     true},
    {"QaPrunedTanhGeluSkipsOpset17",
     {"qa", nn::TaskHead::QuestionAnswering, true, "gelu_new", false, 17},
     quant::WeightQuantType::AbsMax,
     true},
};

INSTANTIATE_TEST_SUITE_P(Heads, QdqOnnxRuntimeOracle, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<QdqCase>& info) { return info.param.name; });

bool python_has_onnx() {
  return ::access(kPython, X_OK) == 0 && std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

// onnx.checker (full check) and strict shape inference, then the graph's op counts, its 2-D int8 initializers,
// the fp32 Linear weights left, and the axis attributes of the DequantizeLinear nodes, as JSON.
nlohmann::json inspect_graph(const std::filesystem::path& model_file) {
  const std::filesystem::path dir = model_file.parent_path();
  const std::string script =
      "import collections, json, sys, onnx\n"
      "m = onnx.load(sys.argv[1])\n"
      "onnx.checker.check_model(m, full_check=True)\n"
      "onnx.shape_inference.infer_shapes(m, strict_mode=True)\n"
      "inits = m.graph.initializer\n"
      "print(json.dumps({\n"
      "  'ops': collections.Counter(n.op_type for n in m.graph.node),\n"
      "  'int8_matrices': sum(1 for i in inits if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 2),\n"
      "  'fp32_linear_weights': sum(1 for i in inits if i.name.endswith('.weight_t')),\n"
      "  'dq_axes': sorted(a.i for n in m.graph.node if n.op_type == 'DequantizeLinear'\n"
      "                    for a in n.attribute if a.name == 'axis'),\n"
      "}))\n";
  std::ofstream(dir / "graph_summary.py") << script;
  const int rc =
      run_logged(std::string(kPython) + " '" + (dir / "graph_summary.py").string() + "' '" + model_file.string() + "'",
                 dir / "graph_summary.log");
  const std::string log = read_text(dir / "graph_summary.log");
  if (rc != 0) {
    ADD_FAILURE() << log;
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(log);
}

class QdqOnnxChecker : public ::testing::TestWithParam<QdqCase> {};

TEST_P(QdqOnnxChecker, OnePairPerPlannedOperandAndInt8WeightsPassTheChecker) {
  if (!python_has_onnx()) GTEST_SKIP() << kPython << " cannot import onnx (install python3-onnx)";
  const QdqCase& c = GetParam();
  ExportedCase exported = export_case(c);
  const quant::FakeQuantPlan& plan = exported.plan;
  const nlohmann::json graph = inspect_graph(exported.file);
  if (HasFailure()) return;
  std::cout << "[ QDQ graph ] " << c.name << ": " << graph.dump() << "\n";

  const auto activations = static_cast<std::int64_t>(plan.activation_thresholds.size());
  const auto weights = static_cast<std::int64_t>(plan.weights.size());
  const auto linears = static_cast<std::int64_t>(nn::linear_sites(*exported.model).size());
  EXPECT_EQ(graph.at("ops").value("QuantizeLinear", 0), activations);
  EXPECT_EQ(graph.at("ops").value("DequantizeLinear", 0), activations + weights);
  EXPECT_EQ(graph.at("ops").at("MatMul"),
            linears + static_cast<std::int64_t>(nn::matmul_sites(*exported.model).size()));
  EXPECT_EQ(graph.at("int8_matrices"), weights);
  EXPECT_EQ(graph.at("fp32_linear_weights"), linears - weights);
  // Per-channel weights dequantize along axis 1 of W^T [in, out]; per-tensor ones have no axis.
  const bool per_channel = c.weights == quant::WeightQuantType::ChannelWiseAbsMax;
  EXPECT_EQ(graph.at("dq_axes"), nlohmann::json(std::vector<int>(per_channel ? weights : 0, 1)));
}

INSTANTIATE_TEST_SUITE_P(Plans, QdqOnnxChecker, ::testing::Values(kCases[0], kCases[3], kCases[6], kCases[7]),
                         [](const ::testing::TestParamInfo<QdqCase>& info) { return info.param.name; });

// Every activation operand at threshold `t` and every Linear weight per channel.
quant::FakeQuantPlan uniform_plan(nn::TaskModelImpl& model, double t) {
  quant::FakeQuantPlan plan;
  for (const quant::SiteOperandKey& key : quant::activation_operands(model)) plan.activation_thresholds[key] = t;
  for (const nn::LinearSite& site : nn::linear_sites(model))
    plan.weights[site.name] = quant::quantize_weight(site.module->weight);
  return plan;
}

TEST(QdqExport, Int8FileIsAtMostFourTenthsOfTheFp32FileWhenLinearWeightsDominate) {
  // Linear weights are 97% of the parameters (BERT-base: 78%): 4 layers of 128 -> 512 -> 128, 100-token vocabulary.
  nn::EncoderConfig config;
  config.vocab_size = 100;
  config.hidden_size = 128;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 4;
  config.intermediate_size = 512;
  config.max_position_embeddings = 64;
  config.num_labels = 3;
  at::manual_seed(3);
  nn::TaskModel model(config, nn::TaskHead::SequenceClassification);
  model->eval();
  const std::filesystem::path dir = scratch_dir();
  export_onnx(*model, dir / "model.onnx");
  export_qdq_onnx(*model, uniform_plan(*model, 4.0), dir / "model.int8.onnx");
  const std::uintmax_t fp32 = std::filesystem::file_size(dir / "model.onnx");
  const std::uintmax_t int8 = std::filesystem::file_size(dir / "model.int8.onnx");
  const double ratio = static_cast<double>(int8) / static_cast<double>(fp32);
  std::cout << "[ QDQ size ] model.onnx " << fp32 << " bytes, model.int8.onnx " << int8 << " bytes, ratio " << ratio
            << "\n";
  EXPECT_LE(ratio, 0.4);
}

// export_qdq_onnx must throw exactly `expected` (after "<file>: ") and leave no file behind.
void expect_export_error(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan, const std::string& expected,
                         const OnnxExportOptions& options = {}) {
  const std::filesystem::path file = scratch_dir() / "model.int8.onnx";
  try {
    export_qdq_onnx(model, plan, file, options);
    ADD_FAILURE() << "expected slimpipe::Error: " << expected;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": " + expected);
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(QdqExport, PlansOutsideInt8QdqAreRefused) {
  nn::TaskModel model = small_model({"seq_cls", nn::TaskHead::SequenceClassification});
  const quant::FakeQuantPlan good = uniform_plan(*model, 2.0);

  quant::FakeQuantPlan four_bit = good;
  four_bit.options.bits = 4;
  expect_export_error(*model, four_bit,
                      "QDQ export: the plan quantizes activations to 4 bits; int8 QuantizeLinear/DequantizeLinear "
                      "need bits = 8");
  // The emitters refuse it on their own too, without a file to name.
  EXPECT_THROW(qdq_linear_emitter(four_bit), Error);
  EXPECT_THROW(qdq_matmul_emitter(four_bit), Error);

  quant::FakeQuantPlan legacy = good;
  legacy.options.onnx_format = false;
  expect_export_error(*model, legacy,
                      "QDQ export: the plan has onnx_format = false (Paddle's legacy qdq: clip to [-T, T], levels "
                      "-127..127); ONNX QuantizeLinear saturates to -128..127, which is onnx_format = true");

  quant::FakeQuantPlan four_bit_weight = good;
  quant::FakeQuantOptions four;
  four.bits = 4;
  four_bit_weight.weights["classifier"] =
      quant::quantize_weight(model->classifier->weight, quant::WeightQuantType::AbsMax, 0, four);
  expect_export_error(*model, four_bit_weight,
                      "QDQ export: plan.weights['classifier']: 4-bit weight; the int8 QDQ export needs bits = 8");

  quant::FakeQuantPlan float_levels = good;
  float_levels.weights["classifier"].levels = model->classifier->weight.detach().clone();
  expect_export_error(*model, float_levels,
                      "QDQ export: plan.weights['classifier']: expected int8 levels of shape [out, in], got a 2-d "
                      "Float tensor");

  quant::FakeQuantPlan wrong_thresholds = good;
  wrong_thresholds.weights["classifier"].thresholds = at::ones({5});
  expect_export_error(*model, wrong_thresholds,
                      "QDQ export: plan.weights['classifier']: expected 3 thresholds (one per index of axis 0), got "
                      "shape [5]");

  quant::FakeQuantPlan weight_as_activation = good;
  weight_as_activation.activation_thresholds[{"classifier", nn::kRightOperand}] = 1.0;
  expect_export_error(*model, weight_as_activation,
                      "QDQ export: plan.activation_thresholds has 'classifier' operand 1, the weight of a Linear "
                      "(expected its int8 levels in plan.weights)");

  quant::FakeQuantPlan not_finite = good;
  not_finite.activation_thresholds[{"pooler.dense", nn::kLeftOperand}] = std::nan("");
  expect_export_error(*model, not_finite,
                      "QDQ export: plan.activation_thresholds['pooler.dense' operand 0] is nan (expected a finite "
                      "threshold)");

  OnnxExportOptions own_emitter;
  own_emitter.linear = emit_linear_fp32;
  expect_export_error(*model, good,
                      "QDQ export: options.linear and options.matmul must be empty (the QDQ emitters take their place)",
                      own_emitter);
}

TEST(QdqExport, UnknownSitesAndWrongWeightShapesAreOneLineErrors) {
  nn::TaskModel model = small_model({"token_cls", nn::TaskHead::TokenClassification});
  nn::TaskModel pruned = small_model({"token_cls_pruned", nn::TaskHead::TokenClassification, true});
  const quant::FakeQuantPlan good = uniform_plan(*model, 2.0);

  quant::FakeQuantPlan extra_layer = good;
  extra_layer.activation_thresholds[{"encoder.layer.2.attention.self.qk", nn::kLeftOperand}] = 1.0;
  expect_export_error(*model, extra_layer,
                      "QDQ export: plan.activation_thresholds has 'encoder.layer.2.attention.self.qk' operand 0, but "
                      "the model has no Linear or attention MatMul site of that name");

  quant::FakeQuantPlan misspelt = good;
  misspelt.weights["encoder.layer.0.attention.self.keys"] = good.weights.at("encoder.layer.0.attention.self.key");
  expect_export_error(*model, misspelt,
                      "QDQ export: plan.weights has 'encoder.layer.0.attention.self.keys', but the model has no Linear "
                      "site of that name");

  quant::FakeQuantPlan matmul_weight = good;
  matmul_weight.weights["encoder.layer.0.attention.self.qk"] = good.weights.at("classifier");
  expect_export_error(*model, matmul_weight,
                      "QDQ export: plan.weights has 'encoder.layer.0.attention.self.qk', an attention MatMul, which "
                      "has no weight");

  // The pruned model's plan on the full model: its query keeps 3 of 4 heads.
  quant::FakeQuantPlan pruned_weights = good;
  pruned_weights.weights = uniform_plan(*pruned, 2.0).weights;
  expect_export_error(*model, pruned_weights,
                      "QDQ export: plan.weights['encoder.layer.0.attention.self.query'] has shape [24, 32], the "
                      "model's weight is [32, 32] ([out, in])");
}

}  // namespace
}  // namespace slimpipe::exporter::testing
