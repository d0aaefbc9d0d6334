// Observers and input samplers wired to a model's quantization sites through nn::SiteHook.
#include "slimpipe/quant/site_calibration.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::quant {

std::vector<SiteOperandKey> activation_operands(nn::TaskModelImpl& model) {
  std::vector<SiteOperandKey> keys;
  for (const auto& site : nn::linear_sites(model)) keys.push_back({site.name, nn::kLeftOperand});
  for (const auto& site : nn::matmul_sites(model)) {
    keys.push_back({site, nn::kLeftOperand});
    keys.push_back({site, nn::kRightOperand});
  }
  return keys;
}

bool is_attention_probs(const SiteOperandKey& key) {
  return key.operand == nn::kLeftOperand && key.site.size() >= 3 &&
         key.site.compare(key.site.size() - 3, 3, ".pv") == 0;
}

CalibrationObservers::CalibrationObservers(const std::vector<SiteOperandKey>& operands, const std::string& algo,
                                           const ObserverOptions& options) {
  validate_observer_options(algo, options);
  for (const auto& key : operands) observers_[key] = make_observer(algo, options);
}

nn::SiteHook CalibrationObservers::hook() {
  return [this](const std::string& site, int operand, const at::Tensor& value) {
    auto it = observers_.find({site, operand});
    if (it != observers_.end()) it->second->observe(value);
    return value;
  };
}

int CalibrationObservers::passes() const { return observers_.empty() ? 1 : observers_.begin()->second->passes(); }

void CalibrationObservers::finish_pass() {
  for (auto& [key, observer] : observers_) observer->finish_pass();
}

std::map<SiteOperandKey, double> CalibrationObservers::thresholds() const {
  std::map<SiteOperandKey, double> out;
  for (const auto& [key, observer] : observers_) out[key] = observer->threshold();
  return out;
}

ActivationObserver& CalibrationObservers::observer(const SiteOperandKey& key) const {
  auto it = observers_.find(key);
  if (it == observers_.end())
    throw Error("no observer for site '" + key.site + "' operand " + std::to_string(key.operand));
  return *it->second;
}

LinearInputCollector::LinearInputCollector(std::vector<std::string> sites, std::int64_t max_rows, std::uint64_t seed)
    : max_rows_(max_rows), rng_(seed) {
  if (max_rows < 1) throw Error("LinearInputCollector: max_rows must be >= 1");
  for (auto& s : sites) samples_[s];
}

nn::SiteHook LinearInputCollector::hook() {
  return [this](const std::string& site, int operand, const at::Tensor& value) {
    if (operand == nn::kLeftOperand && samples_.count(site)) record(site, value);
    return value;
  };
}

void LinearInputCollector::record(const std::string& site, const at::Tensor& value) {
  at::Tensor x = value.detach().to(at::kCPU, at::kFloat);
  x = x.reshape({-1, x.size(-1)});
  Sample& s = samples_[site];
  if (!s.rows.defined()) {
    s.rows = at::empty({max_rows_, x.size(1)}, at::kFloat);
    s.sum = at::zeros({x.size(1)}, at::kDouble);
  }
  if (x.size(1) != s.rows.size(1)) throw Error("site '" + site + "': input width changed between batches");
  s.sum += x.sum(0, false, at::kDouble);
  // Reservoir sampling (Algorithm R): every row seen has the same chance max_rows / seen of being kept.
  const std::int64_t n = x.size(0);
  std::int64_t i = 0;
  if (s.seen < max_rows_) {
    const std::int64_t take = std::min(n, max_rows_ - s.seen);
    s.rows.narrow(0, s.seen, take).copy_(x.narrow(0, 0, take));
    i = take;
    s.seen += take;
  }
  for (; i < n; ++i, ++s.seen) {
    std::uniform_int_distribution<std::int64_t> pick(0, s.seen);
    const std::int64_t j = pick(rng_);
    if (j < max_rows_) s.rows[j].copy_(x[i]);
  }
}

const LinearInputCollector::Sample& LinearInputCollector::sample(const std::string& site) const {
  auto it = samples_.find(site);
  if (it == samples_.end()) throw Error("LinearInputCollector: site '" + site + "' is not collected");
  if (it->second.seen == 0) throw Error("LinearInputCollector: no input seen for site '" + site + "'");
  return it->second;
}

at::Tensor LinearInputCollector::rows(const std::string& site) const {
  const Sample& s = sample(site);
  return s.rows.narrow(0, 0, std::min(s.seen, max_rows_));
}

at::Tensor LinearInputCollector::mean(const std::string& site) const {
  const Sample& s = sample(site);
  return (s.sum / static_cast<double>(s.seen)).to(at::kFloat);
}

std::int64_t LinearInputCollector::rows_seen(const std::string& site) const {
  auto it = samples_.find(site);
  return it == samples_.end() ? 0 : it->second.seen;
}

}  // namespace slimpipe::quant
