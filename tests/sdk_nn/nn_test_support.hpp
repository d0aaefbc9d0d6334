// Helpers shared by the sdk_nn tests: a tiny config, deterministic weights and inputs, scratch directories,
// and an assertion for slimpipe's one-line errors.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::nn::testing {

using tiny_bert::max_abs_diff;
using tiny_bert::random_model;

// The tiny BERT as it is (tests/common/tiny_bert.hpp), of `model_type`.
inline EncoderConfig tiny_config(const std::string& model_type = "bert") {
  EncoderConfig c = tiny_bert::config();
  c.model_type = model_type;
  return c;
}

inline EncoderInputs tiny_inputs(std::int64_t vocab = 100) {
  at::manual_seed(11);
  EncoderInputs in;
  in.input_ids = at::randint(1, vocab, {2, 7}, at::kLong);
  in.token_type_ids = at::tensor(std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}).view({2, 7});
  in.attention_mask = at::tensor(std::vector<std::int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}).view({2, 7});
  return in;
}

// A fresh, empty directory under the build tree named after the running test.
inline std::filesystem::path scratch_dir(const std::string& tag = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name() + tag;
  for (char& ch : name)
    if (ch == '/') ch = '_';
  std::filesystem::path dir = std::filesystem::path(SLIMPIPE_BINARY_DIR) / "tests" / "sdk_nn_tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs `fn`, expects a slimpipe::Error whose message is one line holding every part of `parts`.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const slimpipe::Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line error: " << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    return;
  }
  ADD_FAILURE() << "no slimpipe::Error thrown";
}

// Runs the reference script once per program; remembers why when it cannot.
// The directory is per process (ctest runs tests in parallel processes) and removed at exit.
struct Reference {
  std::filesystem::path dir;  // empty when the script failed or was skipped
  std::string skip_reason;

  ~Reference() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }

  static const Reference& get() {
    static const Reference ref = [] {
      Reference r;
      const char* python = "/usr/bin/python3";
      if (!std::filesystem::exists(python)) {
        r.skip_reason = "/usr/bin/python3 is absent";
        return r;
      }
      if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        r.skip_reason = "/usr/bin/python3 cannot import torch (Debian package python3-torch)";
        return r;
      }
      r.dir = std::filesystem::path(SLIMPIPE_BINARY_DIR) / "tests" / "sdk_nn_reference" / std::to_string(::getpid());
      std::filesystem::remove_all(r.dir);
      std::string cmd = std::string(python) + " '" + SLIMPIPE_SOURCE_DIR + "/tests/sdk_nn/make_reference.py' '" +
                        r.dir.string() + "'";
      if (std::system(cmd.c_str()) != 0) r.dir.clear();  // a failing script is a test failure, not a skip
      return r;
    }();
    return ref;
  }
};

}  // namespace slimpipe::nn::testing
