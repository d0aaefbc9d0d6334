// The attention probabilities (operand 0 of every P.V) take their known range [0, 1] in PTQ, whatever the
// calibration algorithm: threshold 1.0, scale 1/127 (PtqOptions::probs_fixed_range, the default). Off, they are
// calibrated like every other operand, as Paddle does. The plan then runs alike in the fake-quant forward and in
// slimpipe_runtime's integer attention.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "quant_test_model.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe::quant {
namespace {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;

// Features(n, seq, seed): random token ids, every other feature padded (masked probabilities are exact zeros).
using Features = testing::RandomFeatures;

std::vector<std::string> pv_sites(nn::TaskModelImpl& model) {
  std::vector<std::string> out;
  for (const auto& s : nn::matmul_sites(model))
    if (s.size() > 3 && s.compare(s.size() - 3, 3, ".pv") == 0) out.push_back(s);
  return out;
}

TEST(ProbsRange, OnlyOperandZeroOfPvIsTheProbabilities) {
  EXPECT_TRUE(is_attention_probs({"encoder.layer.0.attention.self.pv", 0}));
  EXPECT_TRUE(is_attention_probs({"encoder.layer.11.attention.self.pv", nn::kLeftOperand}));
  EXPECT_FALSE(is_attention_probs({"encoder.layer.0.attention.self.pv", 1}));  // V
  EXPECT_FALSE(is_attention_probs({"encoder.layer.0.attention.self.qk", 0}));  // Q
  EXPECT_FALSE(is_attention_probs({"encoder.layer.0.attention.output.dense", 0}));
  EXPECT_FALSE(is_attention_probs({"pv", 0}));
  EXPECT_EQ(kAttentionProbsThreshold, 1.0);
}

// Every algorithm, in both modes where it has them: the probabilities get exactly 1.0 and everything else the
// algorithm's own thresholds, the same as with the option off.
TEST(ProbsRange, EveryAlgorithmGivesTheProbabilitiesThresholdOne) {
  nn::TaskModel model = testing::small_model();
  Features data(24);
  const auto pv = pv_sites(*model);
  ASSERT_EQ(pv.size(), 2u);
  for (const auto& algo : observer_algos()) {
    for (bool paddle : {false, true}) {
      if (paddle && algo == "percentile") continue;  // not a Paddle algorithm
      PtqOptions o;
      o.algo = algo;
      o.batch_size = 8;
      o.batch_num = 2;
      o.observer.paddle_compat = paddle;
      const std::string what = algo + (paddle ? " paddle_compat" : "");
      ASSERT_TRUE(o.probs_fixed_range) << "the default";
      const PtqResult fixed = quantize_post_training(*model, data, o);
      o.probs_fixed_range = false;
      const PtqResult calibrated = quantize_post_training(*model, data, o);
      ASSERT_EQ(fixed.plan.activation_thresholds.size(), calibrated.plan.activation_thresholds.size()) << what;
      for (const auto& [key, t] : fixed.plan.activation_thresholds) {
        if (is_attention_probs(key)) {
          EXPECT_EQ(t, 1.0) << what << " " << key.site;
          // Calibrated, each algorithm lands elsewhere (hist's bin centre can even pass 1.0).
          EXPECT_NE(calibrated.plan.activation_thresholds.at(key), 1.0) << what << " " << key.site;
        } else {
          EXPECT_EQ(t, calibrated.plan.activation_thresholds.at(key)) << what << " " << key.site << " " << key.operand;
        }
      }
      for (const auto& site : pv) EXPECT_EQ(fixed.plan.activation_thresholds.count({site, 0}), 1u) << what;
    }
  }
}

// Off, the probabilities are calibrated exactly as every other operand: the observers' thresholds, unchanged.
TEST(ProbsRange, OffReproducesTheCalibratedThresholds) {
  nn::TaskModel model = testing::small_model();
  Features data(16);
  PtqOptions o;
  o.algo = "KL";
  o.batch_size = 8;
  o.batch_num = 2;
  o.probs_fixed_range = false;
  const PtqResult r = quantize_post_training(*model, data, o);
  CalibrationObservers reference(activation_operands(*model), "KL");
  tasks::run_evaluation(*model, data, 8, reference.hook(), [](const Batch&, const nn::EncoderOutput&) {});
  EXPECT_EQ(r.plan.activation_thresholds, reference.thresholds());

  // Skipped or linear_only: no probabilities threshold at all, fixed or not.
  o.probs_fixed_range = true;
  o.linear_only = true;
  const PtqResult lin = quantize_post_training(*model, data, o);
  for (const auto& [key, t] : lin.plan.activation_thresholds) EXPECT_FALSE(is_attention_probs(key)) << key.site;
  o.linear_only = false;
  o.skip_sites = {"encoder.layer.0.attention.self.pv"};
  const PtqResult skip = quantize_post_training(*model, data, o);
  EXPECT_EQ(skip.plan.activation_thresholds.count({"encoder.layer.0.attention.self.pv", 0}), 0u);
  EXPECT_EQ(skip.plan.activation_thresholds.at({"encoder.layer.1.attention.self.pv", 0}), 1.0);
}

// The fixed range on the wire: calibration.json and the runtime export carry T = 1.0 (scale 1/127), and the
// runtime's integer attention (u8 probability levels 0..127) computes what the fake-quant forward computes.
TEST(ProbsRange, RuntimeAgreesWithTheFakeQuantForward) {
  nn::TaskModel model = testing::small_model(3);
  Features calib(32, 24, 9);
  PtqOptions o;
  o.algo = "KL";
  o.batch_size = 8;
  o.batch_num = 4;
  PtqResult r = quantize_post_training(*model, calib, o);

  const fs::path dir = fs::temp_directory_path() / ("slimpipe_probs_range_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  save_plan(dir / "plan", r.plan);
  const nlohmann::json cal = nlohmann::json::parse(std::ifstream(dir / "plan" / "calibration.json"));
  int probs = 0;
  for (const auto& a : cal.at("activations"))
    if (a.at("operand_name") == "probs") {
      ++probs;
      EXPECT_EQ(a.at("threshold").get<double>(), 1.0);
      EXPECT_DOUBLE_EQ(a.at("scale").get<double>(), 1.0 / 127.0);
    }
  EXPECT_EQ(probs, 2);
  EXPECT_EQ(load_plan(dir / "plan").activation_thresholds, r.plan.activation_thresholds);

  exporter::RuntimeExportOptions options;
  options.f16_word_embeddings = false;
  exporter::export_runtime(*r.model, r.plan, dir / "runtime", options);
  const nlohmann::json rj = nlohmann::json::parse(std::ifstream(dir / "runtime" / "runtime.json"));
  EXPECT_NE(rj.dump().find("\"left_threshold\":1.0"), std::string::npos) << "the P.V probabilities threshold";

  rt::set_threads(1);
  rt::Model m = rt::Model::load(dir / "runtime");
  EXPECT_EQ(m.info().precision, "int8");
  const auto hook = make_fake_quant_hook(r.plan);
  at::Tensor want_all, got_all, fp_all;
  Features eval(96, 24, 21);
  for (std::int64_t begin = 0; begin < eval.size(); begin += 32) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = begin; i < begin + 32; ++i) idx.push_back(i);
    const Batch b = eval.collate(idx);
    at::NoGradGuard no_grad;
    const at::Tensor want = r.model->forward(b.inputs, hook).logits, fp = model->forward(b.inputs).logits;
    auto flat = [](const at::Tensor& t) {
      at::Tensor c = t.contiguous();
      return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
    };
    const auto& out = m.run(flat(b.inputs.input_ids), flat(b.inputs.token_type_ids), flat(b.inputs.attention_mask), 32,
                            b.inputs.input_ids.size(1));
    const at::Tensor got = at::from_blob(const_cast<float*>(out.logits), {32, out.num_labels}, at::kFloat).clone();
    want_all = want_all.defined() ? at::cat({want_all, want}) : want;
    got_all = got_all.defined() ? at::cat({got_all, got}) : got;
    fp_all = fp_all.defined() ? at::cat({fp_all, fp}) : fp;
  }
  // The runtime test's INT8 tolerance (tests/runtime): mean |runtime - fake-quant| within 5% of the mean
  // quantization error, max within 30% of its max, and the same predictions.
  const double mean_diff = (want_all - got_all).abs().mean().item<double>(),
               diff = (want_all - got_all).abs().max().item<double>();
  const double mean_qerr = (want_all - fp_all).abs().mean().item<double>(),
               qerr = (want_all - fp_all).abs().max().item<double>();
  const double agree = want_all.argmax(-1).eq(got_all.argmax(-1)).to(at::kDouble).mean().item<double>();
  std::cout << "[ probs T=1 ] cpu " << rt::cpu_isa() << ", integer attention in " << m.info().int8_attention_layers
            << " of 2 layers: |runtime - fake-quant| max " << diff << " mean " << mean_diff
            << "; |fake-quant - fp32| max " << qerr << " mean " << mean_qerr << "; same argmax " << 100 * agree
            << "%\n";
  EXPECT_LE(mean_diff, 0.05 * mean_qerr);
  EXPECT_LE(diff, 0.3 * qerr);
  EXPECT_GE(agree, 0.99);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace slimpipe::quant
