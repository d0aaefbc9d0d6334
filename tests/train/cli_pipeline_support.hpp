// Tests that run a pipeline end to end through the built CLI: skip when plugins are not built, run the
// pipeline with its output in a fresh temporary folder, read the train and evaluate nodes' manifests.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli_pipeline {

namespace fs = std::filesystem;

inline nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error(p.string() + ": cannot open");
  return nlohmann::json::parse(in);
}

// The first of `libs` missing from the build's plugin folder, or "" when all are built.
inline std::string missing_plugin(const std::vector<std::string>& libs) {
  const fs::path dir = fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins";
  for (const auto& lib : libs)
    if (!fs::exists(dir / lib)) return (dir / lib).string();
  return "";
}

struct Result {
  nlohmann::json trained, evaluation;  // manifests of the nodes `train` and `evaluate`
  double seconds = 0;                  // wall time of the whole run
};

// Runs `env slimpipe run <pipeline> --set pipeline.output_dir=<tmp> -q` and throws with the log when it
// fails. `name` names the temporary folder; the folder is removed afterwards.
inline Result run(const fs::path& pipeline, const std::string& name, const std::string& env = "") {
  const fs::path out = fs::temp_directory_path() / ("slimpipe_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string log = out.string() + ".log";
  const std::string cmd = env + (env.empty() ? "" : " ") + SLIMPIPE_CLI + " run " + pipeline.string() +
                          " --set pipeline.output_dir=" + out.string() + " -q > " + log + " 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = std::system(cmd.c_str());
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ifstream log_in(log);
  const std::string log_text((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  if (rc != 0) throw std::runtime_error(cmd + " failed:\n" + log_text);
  r.trained = read_json(out / "train" / "manifest.json");
  r.evaluation = read_json(out / "evaluate" / "manifest.json");
  if (!fs::exists(out / "train" / "model.safetensors")) throw std::runtime_error(name + ": no train/model.safetensors");
  fs::remove_all(out);
  fs::remove(log);
  return r;
}

}  // namespace cli_pipeline
