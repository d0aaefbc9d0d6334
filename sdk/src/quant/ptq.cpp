// One PTQ cell: calibration over the first batch_size x batch_num features, weight rounding (nearest or
// AdaRound), bias correction; and the per-site sensitivity of the result.
#include "slimpipe/quant/ptq.hpp"

#include <ATen/ATen.h>
#include <fnmatch.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "slimpipe/error.hpp"
#include "slimpipe/quant/bias_correction.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"

namespace slimpipe::quant {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class FirstFeatures final : public FeatureSet {
 public:
  FirstFeatures(std::shared_ptr<const FeatureSet> data, std::int64_t n) : data_(std::move(data)), n_(n) {}
  std::int64_t size() const override { return n_; }
  Batch collate(const std::vector<std::int64_t>& indices) const override {
    for (auto i : indices)
      if (i < 0 || i >= n_) throw Error("calibration features: index " + std::to_string(i) + " out of range");
    return data_->collate(indices);
  }
  std::int64_t num_examples() const override { return n_; }

 private:
  std::shared_ptr<const FeatureSet> data_;
  std::int64_t n_;
};

bool matches(const std::string& pattern, const std::string& site) {
  return fnmatch(pattern.c_str(), site.c_str(), 0) == 0;
}

std::vector<std::string> all_sites(nn::TaskModelImpl& model) {
  std::vector<std::string> sites;
  for (const auto& s : nn::linear_sites(model)) sites.push_back(s.name);
  for (const auto& s : nn::matmul_sites(model)) sites.push_back(s);
  return sites;
}

}  // namespace

RoundType round_type_from_string(const std::string& name) {
  if (name == "round") return RoundType::Round;
  if (name == "adaround") return RoundType::AdaRound;
  throw Error("round_type: expected \"round\" or \"adaround\", got \"" + name + "\"");
}

void validate_ptq_options(const PtqOptions& o) {
  validate_observer_options(o.algo, o.observer);
  if (o.batch_size < 1) throw Error("batch_size must be at least 1, got " + std::to_string(o.batch_size));
  if (o.batch_num < 0)
    throw Error("batch_num must be 0 (all calibration data) or more, got " + std::to_string(o.batch_num));
  if (o.sample_rows < 1) throw Error("sample_rows must be at least 1, got " + std::to_string(o.sample_rows));
  if (o.observer.bits != 8 && o.round_type == RoundType::AdaRound && o.adaround.bits != o.observer.bits)
    throw Error("adaround bits must equal the activation bits");
}

std::vector<std::string> matching_sites(nn::TaskModelImpl& model, const std::vector<std::string>& patterns) {
  const std::vector<std::string> sites = all_sites(model);
  std::set<std::string> out;
  for (const auto& p : patterns) {
    bool any = false;
    for (const auto& s : sites)
      if (matches(p, s)) {
        out.insert(s);
        any = true;
      }
    if (!any)
      throw Error("skip_sites: pattern '" + p + "' matches no site of this model (sites look like '" + sites.front() +
                  "', 'encoder.layer.0.attention.self.qk', 'encoder.layer.*.output.dense')");
  }
  return {out.begin(), out.end()};
}

std::shared_ptr<const FeatureSet> first_features(std::shared_ptr<const FeatureSet> data, std::int64_t n) {
  if (n >= data->size()) return data;
  return std::make_shared<FirstFeatures>(std::move(data), n);
}

PtqResult quantize_post_training(nn::TaskModelImpl& model, const FeatureSet& calibration, const PtqOptions& options,
                                 const PtqProgress& progress) {
  validate_ptq_options(options);
  PtqResult result;
  result.model = nn::TaskModel(std::dynamic_pointer_cast<nn::TaskModelImpl>(model.clone()));
  nn::TaskModelImpl& qmodel = *result.model;

  const std::int64_t wanted = options.batch_num == 0 ? calibration.size() : options.batch_size * options.batch_num;
  if (calibration.size() == 0) throw Error("calibration: the calibration split has no features");
  result.calibration_features = std::min(wanted, calibration.size());
  result.calibration_batches = (result.calibration_features + options.batch_size - 1) / options.batch_size;
  FirstFeatures data(std::shared_ptr<const FeatureSet>(&calibration, [](const FeatureSet*) {}),
                     result.calibration_features);

  // Which operands are quantized: `operands` are calibrated, `fixed` (the attention probabilities, unless
  // probs_fixed_range is off) take their known range.
  std::set<std::string> skipped;
  for (const auto& s : matching_sites(qmodel, options.skip_sites)) skipped.insert(s);
  std::vector<SiteOperandKey> operands, fixed;
  for (const auto& key : activation_operands(qmodel)) {
    if (skipped.count(key.site)) continue;
    const bool is_matmul = key.site.size() > 3 && (key.site.compare(key.site.size() - 3, 3, ".qk") == 0 ||
                                                   key.site.compare(key.site.size() - 3, 3, ".pv") == 0);
    if (is_matmul && options.linear_only) continue;
    (options.probs_fixed_range && is_attention_probs(key) ? fixed : operands).push_back(key);
  }
  std::vector<std::string> linear_names;
  for (const auto& s : nn::linear_sites(qmodel))
    if (!skipped.count(s.name)) linear_names.push_back(s.name);

  // Activation thresholds; input rows of every Linear are sampled in the last pass when the weights need them.
  const bool need_rows = options.round_type == RoundType::AdaRound || options.bias_correction;
  const auto t0 = std::chrono::steady_clock::now();
  CalibrationObservers observers(operands, options.algo, options.observer);
  LinearInputCollector collector(linear_names, options.sample_rows, /*seed=*/0);
  const int passes = observers.passes();
  for (int pass = 0; pass < passes; ++pass) {
    const bool last = pass + 1 == passes;
    nn::SiteHook observe = observers.hook();
    nn::SiteHook hook = observe;
    if (last && need_rows) {
      nn::SiteHook collect = collector.hook();
      hook = [observe, collect](const std::string& site, int operand, const at::Tensor& v) {
        return collect(site, operand, observe(site, operand, v));
      };
    }
    std::int64_t done = 0;
    if (progress && pass == 0) progress("calibrate", 0, passes * result.calibration_batches);
    tasks::run_evaluation(qmodel, data, options.batch_size, hook, [&](const Batch&, const nn::EncoderOutput&) {
      if (progress)
        progress("calibrate", ++done + pass * result.calibration_batches, passes * result.calibration_batches);
    });
    if (!last) observers.finish_pass();
  }
  result.plan.activation_thresholds = observers.thresholds();
  for (const auto& key : fixed) result.plan.activation_thresholds[key] = kAttentionProbsThreshold;
  result.plan.options.bits = options.observer.bits;
  result.plan.options.onnx_format = options.observer.onnx_format;
  result.calibration_seconds = seconds_since(t0);

  // Weights.
  const auto t1 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  std::int64_t done = 0;
  if (progress) progress("weights", 0, static_cast<std::int64_t>(linear_names.size()));
  const auto linears = nn::linear_sites(qmodel);
  for (const auto& site : linears) {
    if (skipped.count(site.name)) continue;
    const at::Tensor w = site.module->weight.detach().to(at::kCPU, at::kFloat);
    const at::Tensor thresholds = weight_thresholds(w, options.weight_type, 0);
    const std::int64_t axis = options.weight_type == WeightQuantType::ChannelWiseAbsMax ? 0 : -1;
    auto act = result.plan.activation_thresholds.find({site.name, nn::kLeftOperand});
    QuantizedWeight q;
    if (options.round_type == RoundType::AdaRound) {
      AdaRoundOptions ada = options.adaround;
      ada.bits = options.observer.bits;
      if (act != result.plan.activation_thresholds.end()) ada.input_threshold = act->second;
      const AdaRoundResult r = adaround_weight(w, collector.rows(site.name), thresholds, ada);
      q = r.weight;
      result.adaround[site.name] = {r.nearest_loss, r.adaround_loss};
    } else {
      FakeQuantOptions fq;
      fq.bits = options.observer.bits;
      q = quantize_weight_with(w, thresholds, axis, fq);
    }
    q.axis = axis;
    if (options.bias_correction) {
      // b' = b + W mu - W^ mu^: mu over every input row seen, mu^ shifted by the quantization error of the
      // sampled rows (the layer's inputs as the int8 model feeds them, upstream errors aside).
      const at::Tensor mu = collector.mean(site.name);
      at::Tensor mu_q = mu;
      if (act != result.plan.activation_thresholds.end()) {
        const at::Tensor rows = collector.rows(site.name);
        mu_q = mu + (fake_quantize(rows, act->second, result.plan.options).mean(0) - rows.mean(0));
      }
      at::Tensor b = corrected_bias(
          w, q.dequantize(), site.module->bias.defined() ? site.module->bias.detach().cpu() : at::Tensor(), mu, mu_q);
      if (site.module->bias.defined())
        site.module->bias.copy_(b.to(site.module->bias.device(), site.module->bias.scalar_type()));
    }
    result.plan.weights[site.name] = std::move(q);
    if (progress) progress("weights", ++done, static_cast<std::int64_t>(linear_names.size()));
  }
  result.weight_seconds = seconds_since(t1);
  return result;
}

SensitivityReport site_sensitivity(nn::TaskModelImpl& reference, nn::TaskModelImpl& quantized,
                                   const FakeQuantPlan& plan, const FeatureSet& data, std::int64_t batch_size) {
  std::map<std::string, SiteSensitivity> sites;
  std::map<std::string, at::Tensor> dequantized;
  for (const auto& [site, q] : plan.weights) dequantized[site] = q.dequantize();
  std::set<std::string> linear;
  for (const auto& s : nn::linear_sites(reference)) linear.insert(s.name);
  for (const auto& name : plan_sites(plan)) {
    sites[name].site = name;
    sites[name].kind = linear.count(name) ? "linear" : "matmul";
  }
  std::map<std::string, QuantErrorMeter> out_m, left_m, right_m;
  std::map<std::string, at::Tensor> left_value;
  auto qdq = [&](const std::string& site, int operand, const at::Tensor& v) -> at::Tensor {
    auto t = plan.activation_thresholds.find({site, operand});
    return t == plan.activation_thresholds.end() ? v : fake_quantize(v, t->second, plan.options);
  };
  // One fp32 forward per batch: each site's output recomputed with its own operands quantized.
  nn::SiteHook hook = [&](const std::string& site, int operand, const at::Tensor& v) {
    if (!sites.count(site)) return v;
    if (operand == nn::kLeftOperand) {
      left_value[site] = v;
      return v;
    }
    const at::Tensor& a = left_value.at(site);
    at::Tensor a_q = qdq(site, nn::kLeftOperand, a);
    at::Tensor b_q;
    at::Tensor y, y_q;
    if (linear.count(site)) {
      auto w = dequantized.find(site);
      b_q = w == dequantized.end() ? v : w->second.to(v.device(), v.scalar_type());
      y = at::matmul(a, v.t());
      y_q = at::matmul(a_q, b_q.t());
      if (w != dequantized.end()) right_m[site].add(v, b_q);
    } else {
      b_q = qdq(site, nn::kRightOperand, v);
      // qk: Q K^T; pv: P V.
      const bool qk = site.compare(site.size() - 3, 3, ".qk") == 0;
      y = at::matmul(a, qk ? v.transpose(-1, -2) : v);
      y_q = at::matmul(a_q, qk ? b_q.transpose(-1, -2) : b_q);
      if (plan.activation_thresholds.count({site, nn::kRightOperand})) right_m[site].add(v, b_q);
    }
    if (plan.activation_thresholds.count({site, nn::kLeftOperand})) left_m[site].add(a, a_q);
    out_m[site].add(y, y_q);
    left_value.erase(site);
    return v;
  };
  SensitivityReport report;
  std::vector<at::Tensor> ref_outputs;
  auto outputs_of = [](const nn::EncoderOutput& o) {
    return o.logits.defined() ? o.logits.reshape({-1})
                              : at::cat({o.start_logits.reshape({-1}), o.end_logits.reshape({-1})});
  };
  tasks::run_evaluation(reference, data, batch_size, hook,
                        [&](const Batch&, const nn::EncoderOutput& o) { ref_outputs.push_back(outputs_of(o).cpu()); });
  QuantErrorMeter logits;
  std::size_t i = 0;
  tasks::run_evaluation(
      quantized, data, batch_size, make_fake_quant_hook(plan),
      [&](const Batch&, const nn::EncoderOutput& o) { logits.add(ref_outputs.at(i++), outputs_of(o).cpu()); });
  report.logits = logits.result();
  for (auto& [name, s] : sites) {
    s.output = out_m[name].result();
    s.left = left_m[name].result();
    s.right = right_m[name].result();
    report.sites.push_back(s);
  }
  std::stable_sort(report.sites.begin(), report.sites.end(), [](const SiteSensitivity& a, const SiteSensitivity& b) {
    return a.output.sqnr_db < b.output.sqnr_db;
  });
  return report;
}

FakeQuantPlan without_sites(const FakeQuantPlan& plan, const std::vector<std::string>& sites) {
  FakeQuantPlan out = plan;
  for (const auto& s : sites) {
    out.weights.erase(s);
    out.activation_thresholds.erase({s, nn::kLeftOperand});
    out.activation_thresholds.erase({s, nn::kRightOperand});
  }
  return out;
}

std::vector<std::string> plan_sites(const FakeQuantPlan& plan) {
  std::set<std::string> sites;
  for (const auto& [key, t] : plan.activation_thresholds) sites.insert(key.site);
  for (const auto& [site, w] : plan.weights) sites.insert(site);
  return {sites.begin(), sites.end()};
}

std::int64_t fp32_size_bytes(nn::TaskModelImpl& model) {
  std::int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel() * 4;
  return n;
}

std::int64_t quantized_size_bytes(nn::TaskModelImpl& model, const FakeQuantPlan& plan) {
  std::int64_t bytes = fp32_size_bytes(model);
  for (const auto& [site, q] : plan.weights) bytes += q.levels.numel() * (1 - 4) + q.thresholds.numel() * 4;
  return bytes;
}

}  // namespace slimpipe::quant
