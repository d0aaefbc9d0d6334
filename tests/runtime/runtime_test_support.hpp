// Shared by the runtime-against-LibTorch tests (runtime_test.cpp: fp32 and INT8 agreement; runtime_errors_test.cpp:
// one-line errors; runtime_memory_test.cpp: steady-state allocations): the tiny task models they export, their
// inputs, the LibTorch reference and the runtime's logits side by side, and an abs_max calibration.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe::runtime_test {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;

struct Case {
  std::string name;
  nn::TaskHead head;
  std::string act = "gelu";
  bool pruned = false;
  bool ernie = false;
};

inline nn::TaskModel make_model(const Case& c, std::int64_t hidden = 32, std::int64_t layers = 2,
                                std::uint64_t seed = 3) {
  nn::EncoderConfig config = tiny_bert::config();
  config.model_type = c.ernie ? "ernie" : "bert";
  config.use_task_id = c.ernie;
  config.hidden_size = hidden;
  config.num_hidden_layers = layers;
  config.intermediate_size = 2 * hidden;
  config.hidden_act = c.act;
  nn::TaskModel model = tiny_bert::random_model(config, c.head, seed);
  if (!c.pruned) return model;
  std::vector<std::int64_t> heads, inter;
  for (std::int64_t i = 0; i < layers; ++i) {
    heads.push_back(i % 2 == 0 ? 3 : 2);
    inter.push_back(i % 2 == 0 ? 3 * hidden / 2 : hidden + 8);
  }
  nn::TaskModel pruned = nn::prune(*model, heads, inter);
  pruned->eval();
  return pruned;
}

// batch rows of `seq` tokens; row r is padded over its last (r * 3) % (seq / 2) positions.
inline nn::EncoderInputs make_inputs(std::int64_t batch, std::int64_t seq, std::uint64_t seed) {
  at::manual_seed(static_cast<std::int64_t>(seed));
  nn::EncoderInputs in;
  in.input_ids = at::randint(1, 100, {batch, seq}, at::kLong);
  in.token_type_ids = at::zeros({batch, seq}, at::kLong);
  in.token_type_ids.narrow(1, seq / 2, seq - seq / 2).fill_(1);
  in.attention_mask = at::ones({batch, seq}, at::kLong);
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t pad = (r * 3) % (seq / 2);
    if (pad == 0) continue;
    in.attention_mask[r].narrow(0, seq - pad, pad).fill_(0);
    in.input_ids[r].narrow(0, seq - pad, pad).fill_(0);
  }
  return in;
}

inline std::vector<std::int64_t> flat(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

// The reference as [rows, labels] (seq_cls: batch rows; token_cls: tokens; qa: tokens x (start, end)).
inline at::Tensor reference(nn::TaskModelImpl& model, const nn::EncoderInputs& in, const nn::SiteHook& hook = {}) {
  at::NoGradGuard no_grad;
  auto out = model.forward(in, hook);
  if (model.head() == nn::TaskHead::QuestionAnswering)
    return at::stack({out.start_logits.reshape({-1}), out.end_logits.reshape({-1})}, 1);
  return out.logits.reshape({-1, out.logits.size(-1)});
}

inline at::Tensor runtime_logits(rt::Model& model, const nn::EncoderInputs& in) {
  const std::int64_t b = in.input_ids.size(0), s = in.input_ids.size(1);
  const auto& out = model.run(flat(in.input_ids), flat(in.token_type_ids), flat(in.attention_mask), b, s);
  if (out.start_logits) {
    at::Tensor start = at::from_blob(const_cast<float*>(out.start_logits), {b * s}, at::kFloat).clone();
    at::Tensor end = at::from_blob(const_cast<float*>(out.end_logits), {b * s}, at::kFloat).clone();
    return at::stack({start, end}, 1);
  }
  return at::from_blob(const_cast<float*>(out.logits), {out.logits_size() / out.num_labels, out.num_labels}, at::kFloat)
      .clone();
}

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(SLIMPIPE_BINARY_DIR) / "tests" / "runtime_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline quant::FakeQuantPlan calibrate(nn::TaskModelImpl& model, const std::vector<nn::EncoderInputs>& batches,
                                      bool per_channel = true) {
  at::NoGradGuard no_grad;
  quant::CalibrationObservers obs(quant::activation_operands(model), "abs_max");
  for (int pass = 0; pass < obs.passes(); ++pass) {
    if (pass > 0) obs.finish_pass();
    for (const auto& b : batches) model.forward(b, obs.hook());
  }
  quant::FakeQuantPlan plan;
  plan.activation_thresholds = obs.thresholds();
  for (auto& site : nn::linear_sites(model))
    plan.weights[site.name] = quant::quantize_weight(
        site.module->weight, per_channel ? quant::WeightQuantType::ChannelWiseAbsMax : quant::WeightQuantType::AbsMax);
  return plan;
}

}  // namespace slimpipe::runtime_test
