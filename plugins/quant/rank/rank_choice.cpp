// rank's choice (docs/quantization.md, "How rank chooses"). Eligible: within max_metric_drop and, for INT8
// candidates, logit SQNR >= min_logit_sqnr_db. objective "metric": among the eligible candidates whose metric is
// within noise of the best one (the upper end of the paired-bootstrap interval of candidate - best is >= 0), those
// within fidelity_tolerance_db of the highest SQNR, then the clearly fastest (at every bench batch size, its p50
// more than latency_tolerance below the other's and its p90 below the other's p50), then the highest metric, then
// the smallest. "latency" / "size": the fastest / smallest
// eligible one.
#include <algorithm>
#include <cmath>
#include <limits>

#include "rank.hpp"

namespace slimpipe::ranking {

namespace {

// Eligible first, then the higher metric, then the smaller.
bool better_metric(const Candidate& x, const Candidate& y) {
  if (x.excluded.empty() != y.excluded.empty()) return x.excluded.empty();
  if (x.value != y.value) return x.value > y.value;
  return x.size_bytes < y.size_bytes;
}

// Whether x is faster than y at the first bench batch size; nullopt when the timing does not decide.
std::optional<bool> faster(const Candidate& x, const Candidate& y) {
  if (x.timing.timed() != y.timing.timed()) return x.timing.timed();
  if (x.timing.timed() && x.timing.p50[0] != y.timing.p50[0]) return x.timing.p50[0] < y.timing.p50[0];
  return std::nullopt;
}

// Whether x is clearly faster than y: at every bench batch size, x's p50 more than `tolerance` below y's and x's p90
// below y's p50, neither marked noisy, so that the timing noise of a busy machine (a spike at one batch size, a few
// percent either way) cannot decide; nullopt when the timings do not tell them apart. Candidates within noise of
// each other on metric, fidelity and speed (PTQ cells of one model have the same arithmetic) are then chosen by the
// metric, and the same pipeline chooses the same model on a quiet or a loaded machine, under any executor.
std::optional<bool> clearly_faster(const Candidate& x, const Candidate& y, double tolerance) {
  if (x.timing.timed() != y.timing.timed()) return x.timing.timed();
  if (!x.timing.timed()) return std::nullopt;
  const auto ahead = [tolerance](const ModelTiming& a, const ModelTiming& b) {
    if (a.noisy || b.noisy || a.p50.size() != b.p50.size()) return false;
    for (std::size_t i = 0; i < a.p50.size(); ++i)
      if (!(a.p50[i] < (1.0 - tolerance) * b.p50[i] && a.p90[i] < b.p50[i])) return false;
    return true;
  };
  if (ahead(x.timing, y.timing)) return true;
  if (ahead(y.timing, x.timing)) return false;
  return std::nullopt;
}

}  // namespace

void Rank::choose() {
  order_.resize(cands_.size());
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
    const Candidate& x = cands_[a];
    const Candidate& y = cands_[b];
    if (x.excluded.empty() != y.excluded.empty()) return x.excluded.empty();
    if (s_.objective == "latency") {
      if (const auto f = faster(x, y)) return *f;
    } else if (s_.objective == "size" && x.size_bytes != y.size_bytes) {
      return x.size_bytes < y.size_bytes;
    }
    return better_metric(x, y);
  });
  choice_ = {{"objective", s_.objective}, {"min_logit_sqnr_db", s_.min_sqnr}};
  if (s_.objective == "metric" && cands_[order_.front()].excluded.empty()) choose_within_noise();
}

// objective "metric": `order_` is by metric here, its first the best eligible metric.
void Rank::choose_within_noise() {
  const std::size_t best_metric = order_.front();
  std::vector<std::size_t> noise_set;
  for (std::size_t k : order_) {
    Candidate& c = cands_[k];
    if (!c.excluded.empty()) continue;
    if (k == best_metric) {
      c.within_noise = true;
    } else if (bootstrap_ && slots_[k] && slots_[best_metric] && s_.resamples > 0) {
      c.vs_best = metrics::difference_interval(*bootstrap_, slots_[k], slots_[best_metric], s_.confidence);
      c.within_noise = c.vs_best->high >= 0;
    } else {
      c.within_noise = c.value == cands_[best_metric].value;
    }
    if (c.within_noise) noise_set.push_back(k);
  }
  double best_sqnr = -std::numeric_limits<double>::infinity();
  for (std::size_t k : noise_set)
    if (cands_[k].sqnr_db) best_sqnr = std::max(best_sqnr, *cands_[k].sqnr_db);
  std::vector<std::size_t> faithful;
  for (std::size_t k : noise_set)
    if (std::isinf(best_sqnr) || (cands_[k].sqnr_db && *cands_[k].sqnr_db >= best_sqnr - s_.fidelity_tolerance))
      faithful.push_back(k);
  std::size_t chosen = faithful.front();
  bool timed = false;  // whether latency decided anything (bench = false, or timings within noise: the metric does)
  for (std::size_t k : faithful) {
    if (k == chosen) continue;
    const auto f = clearly_faster(cands_[k], cands_[chosen], s_.latency_tolerance);
    timed = timed || f.has_value();
    if (f ? *f : better_metric(cands_[k], cands_[chosen])) chosen = k;
  }
  order_.erase(std::find(order_.begin(), order_.end(), chosen));
  order_.insert(order_.begin(), chosen);
  Json noise_ids = Json::array(), faithful_ids = Json::array();
  for (std::size_t k : noise_set) noise_ids.push_back(cands_[k].artifact->id());
  for (std::size_t k : faithful) faithful_ids.push_back(cands_[k].artifact->id());
  choice_["best_metric"] = cands_[best_metric].artifact->id();
  choice_["best_metric_value"] = cands_[best_metric].value;
  choice_["within_noise"] = noise_ids;
  choice_["within_fidelity_tolerance"] = faithful_ids;
  choice_["decided_by"] = noise_set.size() == 1  ? "metric"
                          : faithful.size() == 1 ? "fidelity"
                          : timed                ? "latency"
                                                 : "metric";
}

}  // namespace slimpipe::ranking
