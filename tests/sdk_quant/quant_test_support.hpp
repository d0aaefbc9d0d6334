// Helpers shared by the sdk_quant tests: the spec's D1 data, feeding observers, and the numpy reference
// (make_reference.py) run once per build and shared by parallel test processes.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/quant/observer.hpp"

namespace slimpipe::quant::testing {

// Spec §3 D1: x_i = sin(0.37 i)(1 + (i mod 17)/17), i < 65536, x[100] = 20, x[2000] = -9, x[40000] = 12.
inline at::Tensor spec_d1() {
  std::vector<float> v(65536);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * (1.0 + static_cast<double>(i % 17) / 17.0));
  v[100] = 20, v[2000] = -9, v[40000] = 12;
  return at::tensor(v).view({16, 4096});
}

// Splits [rows, ...] into batches of `batch_rows` rows along dim 0.
inline std::vector<at::Tensor> split_rows(const at::Tensor& x, std::int64_t batch_rows) {
  std::vector<at::Tensor> out;
  for (std::int64_t r = 0; r < x.size(0); r += batch_rows)
    out.push_back(x.narrow(0, r, std::min(batch_rows, x.size(0) - r)));
  return out;
}

// Feeds every batch for as many passes as the observer needs and returns its threshold.
inline double calibrate(const std::string& algo, const ObserverOptions& options,
                        const std::vector<at::Tensor>& batches) {
  auto obs = make_observer(algo, options);
  for (int pass = 0; pass < obs->passes(); ++pass) {
    if (pass > 0) obs->finish_pass();
    for (const auto& b : batches) obs->observe(b);
  }
  return obs->threshold();
}

inline ObserverOptions paddle(bool onnx_format = true) {
  ObserverOptions o;
  o.paddle_compat = true;
  o.onnx_format = onnx_format;
  return o;
}

struct ReferenceSet {
  std::vector<at::Tensor> batches;
  nlohmann::json expected;
};

// Runs make_reference.py with Debian's /usr/bin/python3 into a directory keyed by the script's mtime; the first
// process to finish renames its private output into place, so parallel ctest processes share one run.
// Skips the calling test (with the reason) when numpy is unavailable.
inline std::map<std::string, ReferenceSet> load_reference() {
  const std::filesystem::path script = std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "tests/sdk_quant/make_reference.py";
  struct stat st {};
  if (stat(script.c_str(), &st) != 0) throw Error("missing " + script.string());
  const std::filesystem::path dir =
      std::filesystem::path(SLIMPIPE_BINARY_DIR) / "tests" / ("sdk_quant_reference_" + std::to_string(st.st_mtime));
  if (!std::filesystem::exists(dir / "reference.json")) {
    const std::filesystem::path tmp = dir.string() + ".tmp" + std::to_string(getpid());
    const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + tmp.string() + "'";
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) return {};
    if (std::system(cmd.c_str()) != 0) throw Error("reference script failed: " + cmd);
    std::error_code ec;
    std::filesystem::rename(tmp, dir, ec);  // loses the race harmlessly: the winner's files are identical
    if (ec) std::filesystem::remove_all(tmp);
  }
  std::ifstream in(dir / "reference.json");
  nlohmann::json ref = nlohmann::json::parse(in);
  std::map<std::string, ReferenceSet> out;
  for (auto& [name, entry] : ref.items()) {
    ReferenceSet set;
    set.expected = entry["expected"];
    std::ifstream data(dir / (name + ".f32"), std::ios::binary);
    for (const auto& shape : entry["shapes"]) {
      std::vector<std::int64_t> sizes = shape.get<std::vector<std::int64_t>>();
      at::Tensor t = at::empty(sizes, at::kFloat);
      data.read(reinterpret_cast<char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * sizeof(float)));
      if (!data) throw Error("short reference data file for " + name);
      set.batches.push_back(t);
    }
    out[name] = std::move(set);
  }
  return out;
}

}  // namespace slimpipe::quant::testing
