// slimpipe_runtime against LibTorch: fp32 exports agree with TaskModel::forward within 1e-4, INT8 exports with
// the fake-quant forward (quant::make_fake_quant_hook) within a stated tolerance and the same predictions, and
// plans the kernels cannot run are refused at export.
#include "slimpipe_runtime/runtime.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime_test_support.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/export/runtime_export.hpp"

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
using namespace slimpipe::runtime_test;
namespace rt = slimpipe_runtime;

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Rows whose argmax agrees. QA: start and end columns are two independent predictions over the sequence, so
// it compares argmax over tokens per (row, column); the others compare argmax over labels per row.
double agreement(const at::Tensor& a, const at::Tensor& b) {
  return a.argmax(-1).eq(b.argmax(-1)).to(at::kDouble).mean().item<double>();
}

// Stated INT8 tolerance. Both sides see the same int8 levels; the runtime accumulates exactly in int32 where the
// reference sums dequantized floats, so an activation lying within float rounding of a quantization boundary
// can land one level (T/127) apart and carry that through the later layers. Hence: the mean |runtime -
// fake-quant| is at most 5% of the mean |fake-quant - fp32| (the quantization error itself), the max at most
// 30% of its max, and the predictions agree on >= 99.5% of rows.
void expect_int8_agreement(const std::string& name, const at::Tensor& want, const at::Tensor& got,
                           const at::Tensor& fp32, const at::Tensor& want_pred, const at::Tensor& got_pred) {
  const double diff = max_abs(want, got), mean_diff = (want - got).abs().mean().item<double>();
  const double qerr = max_abs(want, fp32), mean_qerr = (want - fp32).abs().mean().item<double>();
  const double agree = agreement(want_pred, got_pred);
  std::cout << "[ int8 " << name << " ] rows " << want_pred.numel() / want_pred.size(-1)
            << ": |runtime - fake-quant| max " << diff << " mean " << mean_diff << "; |fake-quant - fp32| max " << qerr
            << " mean " << mean_qerr << "; same argmax on " << 100 * agree << "% of rows\n";
  EXPECT_LE(mean_diff, 0.05 * mean_qerr);
  EXPECT_LE(diff, 0.3 * qerr);
  EXPECT_GE(agree, 0.995);
}

class Fp32 : public ::testing::TestWithParam<Case> {};

TEST_P(Fp32, LogitsMatchTaskModelWithin1e4) {
  const Case& c = GetParam();
  nn::TaskModel model = make_model(c);
  const fs::path dir = scratch("fp32_" + c.name);
  exporter::export_runtime(*model, dir);
  rt::set_threads(2);
  rt::Model m = rt::Model::load(dir);
  EXPECT_EQ(m.info().precision, "fp32");
  EXPECT_EQ(m.info().int8_linears, 0);
  for (auto [b, s] : {std::pair<std::int64_t, std::int64_t>{3, 17}, {1, 9}, {4, 24}}) {
    auto in = make_inputs(b, s, 11 + b);
    const at::Tensor want = reference(*model, in), got = runtime_logits(m, in);
    ASSERT_EQ(want.sizes(), got.sizes());
    const double diff = max_abs(want, got);
    std::cout << "[ fp32 " << c.name << " b=" << b << " s=" << s << " ] max |runtime - LibTorch| = " << diff << "\n";
    EXPECT_LE(diff, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, Fp32,
                         ::testing::Values(Case{"seq_cls", nn::TaskHead::SequenceClassification},
                                           Case{"token_cls_gelu_new", nn::TaskHead::TokenClassification, "gelu_new"},
                                           Case{"qa_ernie_relu", nn::TaskHead::QuestionAnswering, "relu", false, true},
                                           Case{"seq_cls_pruned", nn::TaskHead::SequenceClassification, "gelu", true},
                                           Case{"token_cls_pruned", nn::TaskHead::TokenClassification, "gelu", true},
                                           Case{"qa_pruned", nn::TaskHead::QuestionAnswering, "gelu", true}),
                         [](const auto& info) { return info.param.name; });

class Int8 : public ::testing::TestWithParam<Case> {};

// INT8: the runtime computes Linear layers as s8 x s8 -> s32 with the scales applied once, where the reference
// multiplies dequantized floats; both see the same int8 levels, so differences are float rounding plus the
// rare activation that lands on the other side of a rounding boundary (one level = T/127).
TEST_P(Int8, MatchesFakeQuantForward) {
  const Case& c = GetParam();
  nn::TaskModel model = make_model(c, 64, 2, 7);
  std::vector<nn::EncoderInputs> calib;
  for (int i = 0; i < 4; ++i) calib.push_back(make_inputs(8, 32, 100 + i));
  quant::FakeQuantPlan plan = calibrate(*model, calib);
  const fs::path dir = scratch("int8_" + c.name);
  exporter::export_runtime(*model, plan, dir);  // default: word embeddings stored as f16
  EXPECT_NE(read_text(dir / "runtime.json").find("\"f16\""), std::string::npos);
  rt::set_threads(2);
  // The deployment computes with the f16-rounded table: so does the reference (the rest of the model is as the
  // fake-quant plan says). PartialPlan below checks an export that keeps the table f32 against the unrounded one.
  {
    at::NoGradGuard no_grad;
    at::Tensor w = model->embeddings->word_embeddings->weight;
    w.copy_(w.to(at::kHalf).to(at::kFloat));
  }
  const auto hook = quant::make_fake_quant_hook(plan);
  std::vector<nn::EncoderInputs> inputs;
  at::Tensor want_all, fp_all;
  for (int i = 0; i < 5; ++i) {
    // Enough predictions that 99.5% is measurable: 240 sequences, 1280 tokens, 400 QA start/end positions.
    const std::int64_t batch = c.head == nn::TaskHead::SequenceClassification ? 48
                               : c.head == nn::TaskHead::QuestionAnswering    ? 40
                                                                              : 8;
    inputs.push_back(make_inputs(batch, 32, 200 + i));
    at::Tensor want = reference(*model, inputs.back(), hook), fp = reference(*model, inputs.back());
    want_all = want_all.defined() ? at::cat({want_all, want}) : want;
    fp_all = fp_all.defined() ? at::cat({fp_all, fp}) : fp;
  }
  // Every kernel path this CPU runs: the own kernels at its best instruction set and at each lower one, and
  // oneDNN's. The reference is the same for all.
  const std::string cpu = rt::cpu_isa();
  const bool vnni = cpu.find("vnni") != std::string::npos || cpu.find("amx") != std::string::npos;
  for (const auto& [label, kernels, isa] :
       std::vector<std::tuple<std::string, rt::Kernels, std::string>>{{"own", rt::Kernels::Own, "auto"},
                                                                      {"own avx2", rt::Kernels::Own, "avx2"},
                                                                      {"own portable", rt::Kernels::Own, "portable"},
                                                                      {"onednn", rt::Kernels::OneDnn, "auto"}}) {
    rt::Options options;
    options.kernels = kernels;
    options.isa = isa;
    std::optional<rt::Model> loaded;
    try {
      loaded.emplace(rt::Model::load(dir, options));
    } catch (const rt::Error& e) {
      std::cout << "[ int8 " << c.name << " / " << label << " ] not on this CPU: " << e.what() << "\n";
      EXPECT_NE(std::string(e.what()).find("this CPU's best is"), std::string::npos) << e.what();
      continue;
    }
    rt::Model& m = *loaded;
    EXPECT_EQ(m.info().precision, "int8");
    EXPECT_EQ(m.info().fp32_linears, 0);
    // Q·Kᵀ and P·V run as integer matmuls on VNNI CPUs (own kernels at their best, or oneDNN's brgemm); elsewhere
    // as float products of the fake-quantized operands. Either way the reference is the same.
    std::cout << "[ int8 " << c.name << " / " << label << " ] cpu " << cpu << ", kernels " << m.info().kernels
              << ", integer attention in " << m.info().int8_attention_layers << " of 2 layers\n";
    if (vnni && isa == "auto") {
      EXPECT_EQ(m.info().int8_attention_layers, 2);
    }
    if (kernels == rt::Kernels::Own) {
      EXPECT_EQ(m.info().own_linears, m.info().int8_linears);
      EXPECT_EQ(m.info().onednn_linears, 0);
    }
    at::Tensor got_all;
    for (const auto& in : inputs) {
      at::Tensor got = runtime_logits(m, in);
      got_all = got_all.defined() ? at::cat({got_all, got}) : got;
    }
    at::Tensor a = want_all, b = got_all;
    if (c.head == nn::TaskHead::QuestionAnswering) {  // argmax over the tokens of each sequence, start and end
      a = want_all.view({-1, 32, 2}).transpose(1, 2);
      b = got_all.view({-1, 32, 2}).transpose(1, 2);
    }
    expect_int8_agreement(c.name + " / " + label, want_all, got_all, fp_all, a, b);
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, Int8,
                         ::testing::Values(Case{"seq_cls", nn::TaskHead::SequenceClassification},
                                           Case{"token_cls", nn::TaskHead::TokenClassification, "gelu_new"},
                                           Case{"qa_ernie_relu", nn::TaskHead::QuestionAnswering, "relu", false, true},
                                           Case{"seq_cls_pruned", nn::TaskHead::SequenceClassification, "gelu", true}),
                         [](const auto& info) { return info.param.name; });

// A plan that skips operands and uses per-tensor weights: mixed int8 / fp32 sites, split Q/K/V GEMMs,
// fake-quantized inputs without int8 weights, and int8 weights without input thresholds.
TEST(RuntimeInt8, PartialPlanRunsMixedSitesExactlyAsTheHook) {
  Case c{"partial", nn::TaskHead::TokenClassification};
  nn::TaskModel model = make_model(c, 64, 2, 9);
  std::vector<nn::EncoderInputs> calib{make_inputs(8, 32, 1), make_inputs(8, 32, 2)};
  quant::FakeQuantPlan plan = calibrate(*model, calib, /*per_channel=*/false);
  plan.activation_thresholds.erase({"encoder.layer.0.attention.self.key", 0});  // Q/K/V not fusable
  plan.activation_thresholds.erase({"encoder.layer.1.intermediate.dense", 0});  // int8 weight, fp32 input
  plan.weights.erase("encoder.layer.1.output.dense");                           // fp32 weight, quantized input
  plan.activation_thresholds.erase({"encoder.layer.1.attention.self.qk", 1});
  plan.activation_thresholds.erase({"encoder.layer.0.attention.self.pv", 0});
  const fs::path dir = scratch("int8_partial");
  exporter::RuntimeExportOptions options;
  options.f16_word_embeddings = false;
  exporter::export_runtime(*model, plan, dir, options);
  EXPECT_EQ(read_text(dir / "runtime.json").find("\"f16\""), std::string::npos);
  rt::set_threads(1);
  rt::Model m = rt::Model::load(dir);
  EXPECT_GT(m.info().fp32_linears, 0);
  EXPECT_GT(m.info().int8_linears, 0);
  auto in = make_inputs(8, 32, 5);
  const at::Tensor want = reference(*model, in, quant::make_fake_quant_hook(plan)), got = runtime_logits(m, in);
  expect_int8_agreement("partial plan", want, got, reference(*model, in), want, got);
}

TEST(RuntimeExport, RefusesPlansTheKernelsCannotRun) {
  Case c{"refuse", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  quant::FakeQuantPlan plan = calibrate(*model, {make_inputs(2, 8, 1)});
  plan.options.bits = 4;
  const fs::path dir = scratch("refuse");
  try {
    exporter::export_runtime(*model, plan, dir);
    FAIL() << "a 4-bit plan was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8-bit"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "runtime.json"));
  plan.options.bits = 8;
  plan.weights["encoder.layer.9.output.dense"] = plan.weights.begin()->second;
  EXPECT_THROW(exporter::export_runtime(*model, plan, dir), Error);
  nn::TaskModel bare(model->config(), nn::TaskHead::None);
  EXPECT_THROW(exporter::export_runtime(*bare, dir), Error);
}

}  // namespace
