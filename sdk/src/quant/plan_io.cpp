// A FakeQuantPlan on disk: calibration.json (thresholds and scales, human-readable) and
// quant_weights.safetensors (int8 levels and float thresholds per Linear).
#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/json_file.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/quant/ptq.hpp"

namespace slimpipe::quant {

namespace {

constexpr const char* kFormat = "slimpipe.calibration/1";

std::string operand_name(const std::string& site, int operand) {
  auto ends = [&](const char* s) { return site.size() > 3 && site.compare(site.size() - 3, 3, s) == 0; };
  if (ends(".qk")) return operand == 0 ? "query" : "key";
  if (ends(".pv")) return operand == 0 ? "probs" : "value";
  return operand == 0 ? "input" : "weight";
}

}  // namespace

void save_plan(const std::filesystem::path& dir, const FakeQuantPlan& plan, const Json& extra) {
  const double qmax = static_cast<double>(quant_max(plan.options.bits));
  Json activations = Json::array();
  for (const auto& [key, t] : plan.activation_thresholds)
    activations.push_back({{"site", key.site},
                           {"operand", key.operand},
                           {"operand_name", operand_name(key.site, key.operand)},
                           {"threshold", t},
                           {"scale", t / qmax},
                           {"zero_point", 0}});
  Json weights = Json::array();
  io::TensorMap tensors;
  for (const auto& [site, q] : plan.weights) {
    const at::Tensor t = q.thresholds.to(at::kFloat).reshape({-1});
    weights.push_back({{"site", site},
                       {"weight_quantize_type", q.per_channel() ? "channel_wise_abs_max" : "abs_max"},
                       {"axis", q.axis},
                       {"shape", q.levels.sizes().vec()},
                       {"threshold_max", t.max().item<double>()},
                       {"threshold_min", t.min().item<double>()},
                       {"levels", site + ".levels"},
                       {"thresholds", site + ".thresholds"}});
    tensors[site + ".levels"] = q.levels.to(at::kChar).contiguous();
    tensors[site + ".thresholds"] = q.per_channel() ? t : q.thresholds.to(at::kFloat).reshape({});
  }
  Json j = {{"format", kFormat},
            {"bits", plan.options.bits},
            {"onnx_format", plan.options.onnx_format},
            {"quant_max", static_cast<std::int64_t>(qmax)},
            {"note",
             "threshold T is the clip value; scale = T / quant_max; int8 q = clip(round_half_even(x / scale), "
             "-quant_max - 1, quant_max) (onnx_format) and x^ = q * scale"},
            {"activations", activations},
            {"weights", weights}};
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) j[k] = v;
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / "calibration.json", j.dump(2) + "\n");
  io::write_safetensors(dir / "quant_weights.safetensors", tensors, {{"format", "pt"}, {"slimpipe", kFormat}});
}

FakeQuantPlan load_plan(const std::filesystem::path& dir) {
  const auto file = dir / "calibration.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    throw Error(file.string() + ": cannot open (a ptq artifact holds calibration.json and quant_weights.safetensors)");
  const Json j = parse_json_file(file);
  FakeQuantPlan plan;
  try {
    if (j.at("format").get<std::string>() != kFormat)
      throw Error(file.string() + ": format '" + j.at("format").get<std::string>() + "', expected '" + kFormat + "'");
    plan.options.bits = j.at("bits").get<int>();
    plan.options.onnx_format = j.at("onnx_format").get<bool>();
    for (const auto& a : j.at("activations")) {
      const double t = a.at("threshold").get<double>();
      if (!(t > 0))
        throw Error(file.string() + ": activation '" + a.at("site").get<std::string>() + "' has threshold " +
                    std::to_string(t) + ", expected > 0");
      plan.activation_thresholds[{a.at("site").get<std::string>(), a.at("operand").get<int>()}] = t;
    }
  } catch (const Json::exception& e) {
    throw Error(file.string() + ": malformed calibration file: " + e.what());
  }
  const io::TensorMap tensors = io::read_safetensors(dir / "quant_weights.safetensors");
  for (const auto& w : j.at("weights")) {
    const std::string site = w.at("site").get<std::string>();
    auto get = [&](const std::string& key) {
      auto it = tensors.find(w.at(key).get<std::string>());
      if (it == tensors.end())
        throw Error((dir / "quant_weights.safetensors").string() + ": no tensor '" + w.at(key).get<std::string>() +
                    "' (named by calibration.json for site '" + site + "')");
      return it->second;
    };
    QuantizedWeight q;
    q.levels = get("levels");
    q.thresholds = get("thresholds");
    q.axis = w.at("axis").get<std::int64_t>();
    q.bits = plan.options.bits;
    if (q.levels.scalar_type() != at::kChar || q.thresholds.scalar_type() != at::kFloat)
      throw Error((dir / "quant_weights.safetensors").string() + ": site '" + site +
                  "' expects int8 levels and float32 thresholds");
    if (q.per_channel() && (q.levels.dim() < 1 || q.thresholds.numel() != q.levels.size(q.axis)))
      throw Error((dir / "quant_weights.safetensors").string() + ": site '" + site + "' has " +
                  std::to_string(q.thresholds.numel()) + " thresholds for " +
                  std::to_string(q.levels.dim() ? q.levels.size(q.axis) : 0) + " channels");
    plan.weights[site] = q;
  }
  return plan;
}

}  // namespace slimpipe::quant
