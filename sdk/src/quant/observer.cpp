// ActivationObserver's shared bookkeeping (dtype, empty batches, min/max, passes) and make_observer with its
// up-front validation of algo x option combinations.
#include "slimpipe/quant/observer.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "observer_kinds.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::quant {

ActivationObserver::~ActivationObserver() = default;

void ActivationObserver::observe(const at::Tensor& batch) {
  if (!batch.defined() || batch.numel() == 0) return;
  if (!batch.is_floating_point()) throw Error("observer '" + algo_ + "': activation must be a float tensor");
  at::Tensor x = batch.detach().to(at::kCPU, at::kFloat).contiguous();
  auto [lo, hi] = at::aminmax(x);
  const double mn = lo.item<double>(), mx = hi.item<double>();
  if (!std::isfinite(mn) || !std::isfinite(mx)) throw Error("observer '" + algo_ + "': activation holds inf or NaN");
  if (batches_ == 0 && pass_ == 0) min_ = mn, max_ = mx;
  min_ = std::min(min_, mn);
  max_ = std::max(max_, mx);
  ++batches_;
  accumulate(x, static_cast<float>(std::max(-mn, mx)));
}

void ActivationObserver::finish_pass() {
  if (pass_ + 1 >= passes())
    throw Error("observer '" + algo_ + "' takes " + std::to_string(passes()) +
                " pass(es); finish_pass() called once too often");
  require_data();
  ++pass_;
  batches_ = 0;
}

void ActivationObserver::require_data() const {
  if (batches_ == 0)
    throw Error("observer '" + algo_ + "': no calibration batch observed" +
                (pass_ > 0 ? " in pass 2 (paddle_compat hist/KL read the data twice)" : ""));
}

const std::vector<std::string>& observer_algos() {
  static const std::vector<std::string> algos{"abs_max", "min_max", "avg", "mse", "emd", "hist", "KL", "percentile"};
  return algos;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string algo_list() {
  std::string s;
  for (const auto& a : observer_algos()) s += (s.empty() ? "'" : ", '") + a + "'";
  return s;
}

bool is_one_of(const std::string& algo, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return algo == n; });
}

}  // namespace

void validate_observer_options(const std::string& algo, const ObserverOptions& o) {
  const auto& algos = observer_algos();
  if (std::find(algos.begin(), algos.end(), algo) == algos.end()) {
    for (const auto& a : algos)
      if (lower(a) == lower(algo)) throw Error("unknown calibration algo '" + algo + "' (did you mean '" + a + "'?)");
    throw Error("unknown calibration algo '" + algo + "' (expected one of " + algo_list() + ")");
  }
  if (o.bits < 2 || o.bits > 16) throw Error("bits must be in 2..16, got " + std::to_string(o.bits));
  if (o.hist_percent) {
    if (algo != "hist") throw Error("hist_percent applies only to algo 'hist', not '" + algo + "'");
    if (!(*o.hist_percent > 0 && *o.hist_percent <= 1))
      throw Error("hist_percent must be a fraction in (0, 1], got " + std::to_string(*o.hist_percent) +
                  " (e.g. 0.9999)");
  }
  if (o.percentile) {
    if (algo != "percentile") throw Error("percentile applies only to algo 'percentile', not '" + algo + "'");
    if (!(*o.percentile > 0 && *o.percentile <= 100))
      throw Error("percentile must be a percent in (0, 100], got " + std::to_string(*o.percentile) + " (e.g. 99.99)");
  }
  if (o.paddle_compat && algo == "percentile")
    throw Error("algo 'percentile' is not a Paddle algorithm: it cannot run with paddle_compat");
  if (o.bins) {
    const std::int64_t b = *o.bins;
    if (!is_one_of(algo, {"hist", "KL", "percentile", "mse", "emd"}))
      throw Error("bins applies only to histogram algos (hist, KL, percentile, mse, emd), not '" + algo + "'");
    if (o.paddle_compat && is_one_of(algo, {"mse", "emd"}))
      throw Error("bins does not apply to '" + algo + "' with paddle_compat (Paddle searches each raw batch)");
    const bool growing = !o.paddle_compat;
    if (growing && (b < 4 || b % 4 != 0)) throw Error("bins must be a multiple of 4, got " + std::to_string(b));
    if (b < 2) throw Error("bins must be >= 2, got " + std::to_string(b));
    if (algo == "KL" && b < 256)
      throw Error("KL needs bins >= 256 (it merges into 127 target bins), got " + std::to_string(b));
  }
}

std::unique_ptr<ActivationObserver> make_observer(const std::string& algo, const ObserverOptions& options) {
  validate_observer_options(algo, options);
  detail::ResolvedOptions r;
  r.paddle_compat = options.paddle_compat;
  r.onnx_format = options.onnx_format;
  r.bits = options.bits;
  r.hist_percent = options.hist_percent.value_or(0.9999);
  r.percentile = options.percentile.value_or(99.99);
  const bool signed_search = !options.paddle_compat && (algo == "mse" || algo == "emd");
  r.bins = options.bins.value_or(signed_search ? 16384 : 2048);
  if (is_one_of(algo, {"abs_max", "min_max", "avg"})) return detail::make_range_observer(algo, r);
  if (is_one_of(algo, {"mse", "emd"})) return detail::make_grid_search_observer(algo, r);
  return detail::make_histogram_observer(algo, r);
}

}  // namespace slimpipe::quant
