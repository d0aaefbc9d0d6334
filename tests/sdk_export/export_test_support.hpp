// Helpers shared by the sdk_export tests: small random models (full and pruned), padded inputs, scratch
// directories, and running the external oracles (node + onnxruntime-node, python3 + onnx) as subprocesses.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::exporter::testing {

using tiny_bert::max_abs_diff;

struct ModelCase {
  std::string name;
  nn::TaskHead head = nn::TaskHead::SequenceClassification;
  bool pruned = false;
  std::string hidden_act = "gelu";
  bool ernie_task_ids = false;  // model_type ernie with use_task_id
  std::int64_t opset = 14;
};

// gtest prints parameters with this instead of a byte dump.
inline void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

// The tiny BERT (tests/common/tiny_bert.hpp) as the case says: bert, or ernie with task ids; its activation.
inline nn::EncoderConfig small_config(const ModelCase& c) {
  nn::EncoderConfig config = tiny_bert::config();
  config.model_type = c.ernie_task_ids ? "ernie" : "bert";
  config.use_task_id = c.ernie_task_ids;
  config.hidden_act = c.hidden_act;
  return config;
}

// O(1) random weights, in eval mode (tiny_bert::random_model). The pruned variant keeps 3 of 4 heads in layer 0
// and 2 in layer 1, and FFN widths 48 and 40.
inline nn::TaskModel small_model(const ModelCase& c, std::uint64_t seed = 5) {
  nn::TaskModel model = tiny_bert::random_model(small_config(c), c.head, seed);
  if (!c.pruned) return model;
  nn::TaskModel pruned = nn::prune(*model, {3, 2}, {48, 40});
  pruned->eval();
  return pruned;
}

// Batch 2, `seq` tokens; the second row is padded over its last `padding` positions.
inline nn::EncoderInputs padded_inputs(std::int64_t seq, std::int64_t padding, std::uint64_t seed) {
  at::manual_seed(static_cast<std::int64_t>(seed));
  nn::EncoderInputs in;
  in.input_ids = at::randint(1, 100, {2, seq}, at::kLong);
  in.token_type_ids = at::zeros({2, seq}, at::kLong);
  in.token_type_ids.narrow(1, seq / 2, seq - seq / 2).fill_(1);
  in.attention_mask = at::ones({2, seq}, at::kLong);
  in.attention_mask[1].narrow(0, seq - padding, padding).fill_(0);
  in.input_ids[1].narrow(0, seq - padding, padding).fill_(0);
  return in;
}

// The model's outputs in the order the exports return them (through `hook`, e.g. a fake-quant hook, if given).
inline std::vector<at::Tensor> reference_outputs(nn::TaskModelImpl& model, const nn::EncoderInputs& in,
                                                 const nn::SiteHook& hook = {}) {
  at::NoGradGuard no_grad;
  nn::EncoderOutput out = model.forward(in, hook);
  switch (model.head()) {
    case nn::TaskHead::None:
      return {out.sequence_output, out.pooled_output};
    case nn::TaskHead::QuestionAnswering:
      return {out.start_logits, out.end_logits};
    default:
      return {out.logits};
  }
}

// The oracle scripts' input format: {"shape", "input_ids", "token_type_ids", "attention_mask"}.
inline nlohmann::json as_json(const nn::EncoderInputs& in) {
  auto flat = [](const at::Tensor& t) {
    at::Tensor c = t.contiguous();
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
  };
  return {{"shape", in.input_ids.sizes().vec()},
          {"input_ids", flat(in.input_ids)},
          {"token_type_ids", flat(in.token_type_ids)},
          {"attention_mask", flat(in.attention_mask)}};
}

// An output written by an oracle script: {"dims", "data"}.
inline at::Tensor from_json(const nlohmann::json& output) {
  std::vector<float> data = output.at("data").get<std::vector<float>>();
  std::vector<std::int64_t> dims = output.at("dims").get<std::vector<std::int64_t>>();
  return at::tensor(data, at::kFloat).view(dims);
}

// A fresh, empty directory under the build tree named after the running test.
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& ch : name)
    if (ch == '/') ch = '_';
  std::filesystem::path dir = std::filesystem::path(SLIMPIPE_BINARY_DIR) / "tests" / "sdk_export_tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` through the shell with stdout and stderr captured in `log`; returns the exit status.
inline int run_logged(const std::string& command, const std::filesystem::path& log) {
  int rc = std::system((command + " >'" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// An executable named `program` on PATH, or "".
inline std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

}  // namespace slimpipe::exporter::testing
