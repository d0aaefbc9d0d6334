// Width parsing and per-layer width arithmetic. A width w keeps H*w heads, so H*w must be whole:
// PaddleNLP fails deep in a reshape (12 heads, w = 0.6); here it is a one-line error before any work.
#include "slimpipe/pruning/width_config.hpp"

#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include "slimpipe/error.hpp"

namespace slimpipe::pruning {

namespace {

constexpr double kWholeTolerance = 1e-6;

double parse_number(const std::string& text, const std::string& where) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw Error(where + ": '" + text +
                "' is not a width (expected a number such as 0.75 or a fraction such as \"3/4\")");
  return v;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

double parse_width(const nlohmann::json& value, const std::string& where) {
  double w = 0;
  if (value.is_number()) {
    w = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = trim(value.get<std::string>());
    const auto slash = text.find('/');
    if (slash == std::string::npos) {
      w = parse_number(text, where);
    } else {
      const double num = parse_number(trim(text.substr(0, slash)), where);
      const double den = parse_number(trim(text.substr(slash + 1)), where);
      if (den == 0) throw Error(where + ": '" + text + "' divides by zero");
      w = num / den;
    }
  } else {
    throw Error(where + ": expected a number or a string such as \"3/4\", got " + value.dump());
  }
  if (!(w > 0 && w <= 1 + kWholeTolerance)) throw Error(where + ": width " + value.dump() + " is outside (0, 1]");
  return std::min(w, 1.0);
}

std::vector<double> parse_width_list(const nlohmann::json& list, const std::string& where) {
  if (!list.is_array() || list.empty())
    throw Error(where + ": expected a non-empty list of widths such as [\"3/4\", 0.5]");
  std::vector<double> widths;
  std::set<std::string> names;
  for (const auto& v : list) {
    widths.push_back(parse_width(v, where));
    if (!names.insert(width_text(widths.back())).second)
      throw Error(where + ": width " + width_text(widths.back()) + " is listed twice");
  }
  return widths;
}

std::string width_text(double width) {
  // Python prints the shortest repr of round(w, 2): "0.75", "0.5", "1.0".
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::round(width * 100.0) / 100.0);
  std::string s = buf;
  while (s.size() > 3 && s.back() == '0') s.pop_back();
  return s;
}

std::string width_artifact_name(double width) { return "width_" + width_text(width); }
std::string paddle_width_name(double width) { return "width_mult_" + width_text(width); }

std::string valid_widths_text(const nn::EncoderConfig& config) {
  std::set<std::int64_t> counts;
  for (std::int64_t l = 0; l < config.num_hidden_layers; ++l) counts.insert(config.num_heads(l));
  // A width valid for every layer: k/H with H*k/H whole in each layer, i.e. k a multiple of H/gcd.
  std::string out;
  const std::int64_t h = *counts.rbegin();
  for (std::int64_t k = 1; k <= h; ++k) {
    const double w = static_cast<double>(k) / static_cast<double>(h);
    bool ok = true;
    for (auto n : counts) {
      const double heads = w * static_cast<double>(n);
      ok = ok && std::abs(heads - std::round(heads)) < kWholeTolerance && std::round(heads) >= 1;
    }
    if (!ok) continue;
    if (!out.empty()) out += ", ";
    // Widths such as 2/3 are not exact in two decimals: show the fraction that selects them.
    const bool exact = std::abs(w * 100 - std::round(w * 100)) < 1e-9;
    const std::int64_t g = std::gcd(k, h);
    out += exact ? width_text(w) : "\"" + std::to_string(k / g) + "/" + std::to_string(h / g) + "\"";
  }
  return out;
}

WidthConfig WidthConfig::for_model(const nn::EncoderConfig& config, double width) {
  WidthConfig c;
  c.width = width;
  for (std::int64_t l = 0; l < config.num_hidden_layers; ++l) {
    const double heads = width * static_cast<double>(config.num_heads(l));
    const auto whole = static_cast<std::int64_t>(std::llround(heads));
    if (std::abs(heads - static_cast<double>(whole)) > kWholeTolerance || whole < 1) {
      char kept[32];
      std::snprintf(kept, sizeof kept, "%.3g", heads);
      throw Error("width_mult_list: width " + width_text(width) + " keeps " + kept + " of layer " + std::to_string(l) +
                  "'s " + std::to_string(config.num_heads(l)) +
                  " heads, not a whole number; valid widths for this model: " + valid_widths_text(config));
    }
    c.heads.push_back(whole);
    // int(F*w) as Paddle truncates; the tolerance keeps 3/4 * 512 = 383.99999 at 384.
    const double neurons = width * static_cast<double>(config.intermediate_size_of(l));
    c.intermediate.push_back(
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(neurons + kWholeTolerance))));
  }
  return c;
}

}  // namespace slimpipe::pruning
