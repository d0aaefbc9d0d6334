// DynaBERT widths: parsing width_mult_list entries ("3/4", 0.75) and turning a width into per-layer head
// and FFN-neuron counts for one model. Torch-free, so a plugin's outputs() can name its artifacts cheaply.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"

namespace slimpipe::pruning {

// A width_mult_list entry: a number, or a string holding a number or a fraction "a/b" (PaddleNLP eval()s
// the strings). Throws Error naming `where` for anything else or a width outside (0, 1].
SLIMPIPE_API double parse_width(const nlohmann::json& value, const std::string& where = "width_mult_list");
// Every entry, in the user's order; duplicates (after rounding to 2 decimals, as the names are) are an error.
SLIMPIPE_API std::vector<double> parse_width_list(const nlohmann::json& list,
                                                  const std::string& where = "width_mult_list");

// Python's str(round(w, 2)): 0.75 -> "0.75", 2/3 -> "0.67", 0.5 -> "0.5", 1 -> "1.0".
SLIMPIPE_API std::string width_text(double width);
// slimpipe's artifact name "width_0.75" and PaddleNLP's directory name "width_mult_0.75".
SLIMPIPE_API std::string width_artifact_name(double width);
SLIMPIPE_API std::string paddle_width_name(double width);

// One width applied to one model: layer i keeps heads[i] heads and intermediate[i] FFN neurons.
struct SLIMPIPE_API WidthConfig {
  double width = 1.0;
  std::vector<std::int64_t> heads;
  std::vector<std::int64_t> intermediate;

  // Heads = H*w (must be a whole number for every layer, as PaddleSlim's reshape requires), neurons =
  // int(F*w) as PaddleSlim's SuperLinear computes it. Throws a one-line Error listing the valid widths
  // of this model otherwise.
  static WidthConfig for_model(const nn::EncoderConfig& config, double width);
  std::string name() const { return width_artifact_name(width); }
};

// The widths that give every layer of `config` a whole number of heads: k/H for k = 1..H (for a model
// with pruned layers, those valid for each of them), as text ("0.25, 0.5, 0.75, 1.0").
SLIMPIPE_API std::string valid_widths_text(const nn::EncoderConfig& config);

}  // namespace slimpipe::pruning
