// Calibration over a model's quantization sites through nn::SiteHook: one observer per activation operand,
// and a sampler of each Linear's input rows for AdaRound and bias correction.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/hooks.hpp"
#include "slimpipe/quant/observer.hpp"

namespace slimpipe::nn {
class TaskModelImpl;
}

namespace slimpipe::quant {

// One operand of one site: Linear input = (name, 0); attention MatMuls: (name, 0) and (name, 1).
struct SLIMPIPE_API SiteOperandKey {
  std::string site;
  int operand = 0;
  bool operator<(const SiteOperandKey& o) const { return std::tie(site, operand) < std::tie(o.site, o.operand); }
  bool operator==(const SiteOperandKey& o) const { return site == o.site && operand == o.operand; }
};

// The activation operands Paddle quantizes on BERT/ERNIE: every Linear's input and both operands of the
// two attention MatMuls per layer (weights are not activations).
SLIMPIPE_API std::vector<SiteOperandKey> activation_operands(nn::TaskModelImpl& model);

// Operand 0 of an attention P.V MatMul (site "....pv"): the softmax probabilities, whose range [0, 1] is known
// before any data is seen.
SLIMPIPE_API bool is_attention_probs(const SiteOperandKey& key);
// Their threshold when PTQ uses that range (PtqOptions::probs_fixed_range, the default): T = 1.0, scale 1/127.
// A probability of 1 is level 127 and every level 0..127 is used; signed int8 spends its negative half on
// nothing, so the step is 1/127 (what the runtime's u8 probability levels and the QDQ export's int8 scale hold).
constexpr double kAttentionProbsThreshold = 1.0;

// Observers for a set of operands, fed by hook(). Protocol: for each of passes(): run the calibration
// batches through the model with hook(), then finish_pass(); finally thresholds().
class SLIMPIPE_API CalibrationObservers {
 public:
  CalibrationObservers(const std::vector<SiteOperandKey>& operands, const std::string& algo,
                       const ObserverOptions& options = {});
  // Observes the listed operands and returns every operand unchanged. Valid while *this lives.
  nn::SiteHook hook();
  int passes() const;
  void finish_pass();
  std::map<SiteOperandKey, double> thresholds() const;
  ActivationObserver& observer(const SiteOperandKey& key) const;  // Error for an unknown key

 private:
  std::map<SiteOperandKey, std::unique_ptr<ActivationObserver>> observers_;
};

// Keeps up to max_rows input rows ([.., in] flattened to [rows, in]) per Linear site by reservoir sampling
// (fixed seed: reproducible, and spread over all batches rather than the first ones), plus the exact mean of
// every row seen. Memory is O(max_rows * in) per site however many batches run.
class SLIMPIPE_API LinearInputCollector {
 public:
  LinearInputCollector(std::vector<std::string> sites, std::int64_t max_rows, std::uint64_t seed = 0);
  nn::SiteHook hook();                             // records operand 0 of the sites; changes nothing
  at::Tensor rows(const std::string& site) const;  // [<= max_rows, in] float32
  at::Tensor mean(const std::string& site) const;  // [in] float32, over all rows seen
  std::int64_t rows_seen(const std::string& site) const;

 private:
  struct Sample {
    at::Tensor rows;  // [max_rows, in]
    at::Tensor sum;   // [in] float64
    std::int64_t seen = 0;
  };
  void record(const std::string& site, const at::Tensor& x);
  const Sample& sample(const std::string& site) const;

  std::map<std::string, Sample> samples_;
  std::int64_t max_rows_;
  std::mt19937_64 rng_;
};

}  // namespace slimpipe::quant
