// Static post-training quantization of a TaskModel, as PaddleNLP's compress() runs PaddleSlim's
// PostTrainingQuantization for one (algo, batch_size, batch_num) cell: calibrate every activation operand on
// the first batch_size x batch_num features, quantize every Linear weight (round to nearest or AdaRound),
// optionally correct the biases. The result is a FakeQuantPlan that make_fake_quant_hook and the QDQ exporter
// turn into the int8 model, plus a copy of the model carrying the corrected biases.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/adaround.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/observer.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/quant/weight_quant.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::quant {

enum class RoundType { Round, AdaRound };
SLIMPIPE_API RoundType round_type_from_string(const std::string& name);  // "round", "adaround"; Error on others

struct SLIMPIPE_API PtqOptions {
  std::string algo = "KL";
  ObserverOptions observer;
  std::int64_t batch_size = 4;
  std::int64_t batch_num = 1;  // 0: every feature of the calibration split (the last batch may be short)
  WeightQuantType weight_type = WeightQuantType::ChannelWiseAbsMax;
  RoundType round_type = RoundType::Round;
  AdaRoundOptions adaround;
  bool bias_correction = false;
  // Sites left in fp32: glob patterns over site names ("classifier", "encoder.layer.*.output.dense",
  // "encoder.layer.11.attention.self.qk"). A skipped Linear keeps its fp32 input and weight.
  std::vector<std::string> skip_sites;
  bool linear_only = false;  // leave the two attention MatMuls in fp32
  // The attention probabilities (operand 0 of every P.V) get T = kAttentionProbsThreshold (1.0: their known
  // range [0, 1], scale 1/127) instead of a calibrated threshold, whatever the algo. false: calibrated like every
  // other operand, as Paddle does (KL then clips them near 0.12 and the model collapses; docs/quantization.md).
  bool probs_fixed_range = true;
  std::int64_t sample_rows = 4096;  // input rows kept per Linear for AdaRound and bias correction
};

// Validates the options up front (unknown algo, option the algo does not take, sizes < 0): one-line Error.
SLIMPIPE_API void validate_ptq_options(const PtqOptions& options);

// Sites (Linear and MatMul names) matching any of the glob patterns; Error naming a pattern that matches
// nothing, so a typo does not silently quantize everything.
SLIMPIPE_API std::vector<std::string> matching_sites(nn::TaskModelImpl& model,
                                                     const std::vector<std::string>& patterns);

// The first n features of `data` (n >= size: all of them), as a FeatureSet of its own.
SLIMPIPE_API std::shared_ptr<const FeatureSet> first_features(std::shared_ptr<const FeatureSet> data, std::int64_t n);

struct SLIMPIPE_API PtqResult {
  nn::TaskModel model{nullptr};  // a copy of the input; biases corrected when asked
  FakeQuantPlan plan;
  std::int64_t calibration_features = 0;
  std::int64_t calibration_batches = 0;
  double calibration_seconds = 0;  // observers (all passes)
  double weight_seconds = 0;       // weight rounding, AdaRound and bias correction
  struct LayerRounding {
    double nearest_loss = 0, adaround_loss = 0;
  };
  std::map<std::string, LayerRounding> adaround;  // per Linear site, when round_type = adaround
};

// Progress callback: (phase, done, total), called with done = 0 when a phase ("calibrate", "weights") starts.
using PtqProgress = std::function<void(const std::string&, std::int64_t, std::int64_t)>;

// Quantizes `model` (left unchanged) calibrating on `calibration` (features in order; batches of
// options.batch_size, options.batch_num of them). Runs on the model's device, in eval mode, without gradients.
SLIMPIPE_API PtqResult quantize_post_training(nn::TaskModelImpl& model, const FeatureSet& calibration,
                                              const PtqOptions& options, const PtqProgress& progress = {});

// How far each quantized site's output moves from fp32 when only that site is quantized (inputs taken from the
// fp32 model): Linear y = x W^T (bias excluded), MatMul y = A B. Plus the error of each operand on its own.
struct SLIMPIPE_API SiteSensitivity {
  std::string site;
  std::string kind;        // "linear" or "matmul"
  QuantError output;       // y vs y^ (the ranking key: lowest SQNR = most sensitive)
  QuantError left, right;  // operand 0 / operand 1 vs their quantized forms (count 0 when not quantized)
};
struct SLIMPIPE_API SensitivityReport {
  std::vector<SiteSensitivity> sites;  // most sensitive first
  QuantError logits;                   // whole-model outputs, fake-quant vs fp32, on the same batches
};
// `quantized` is the model the plan belongs to (PtqResult::model); `reference` the fp32 input model.
SLIMPIPE_API SensitivityReport site_sensitivity(nn::TaskModelImpl& reference, nn::TaskModelImpl& quantized,
                                                const FakeQuantPlan& plan, const FeatureSet& data,
                                                std::int64_t batch_size);

// The plan with every operand and weight of `sites` removed (they run in fp32).
SLIMPIPE_API FakeQuantPlan without_sites(const FakeQuantPlan& plan, const std::vector<std::string>& sites);
// The sites a plan quantizes (any operand or weight), sorted.
SLIMPIPE_API std::vector<std::string> plan_sites(const FakeQuantPlan& plan);

// A plan on disk: calibration.json (every activation operand's threshold and scale = T / B, every weight's
// type and axis, the options) and quant_weights.safetensors (int8 levels and float thresholds per Linear).
SLIMPIPE_API void save_plan(const std::filesystem::path& dir, const FakeQuantPlan& plan, const Json& extra = {});
// Errors name the file and the entry.
SLIMPIPE_API FakeQuantPlan load_plan(const std::filesystem::path& dir);

// Bytes of the deployed model: int8 levels and float32 scales of the quantized Linear weights, float32 for
// every other parameter (embeddings, LayerNorm, biases, skipped layers).
SLIMPIPE_API std::int64_t quantized_size_bytes(nn::TaskModelImpl& model, const FakeQuantPlan& plan);
SLIMPIPE_API std::int64_t fp32_size_bytes(nn::TaskModelImpl& model);

}  // namespace slimpipe::quant
