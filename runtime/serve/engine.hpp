// What slimpipe-serve runs per task: the `inputs` of a request checked and turned into Inputs, a batch of Inputs run
// through the package's model, one JSON result per Input (the Hugging Face inference convention).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "slimpipe_runtime/package.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_serve {

using Json = nlohmann::json;

// A request answered with an error: HTTP status, a short machine-readable kind (also the metrics label), and a
// one-line message for the JSON body.
struct HttpError : std::runtime_error {
  HttpError(unsigned status, std::string kind, const std::string& message)
      : std::runtime_error(message), status(status), kind(std::move(kind)) {}
  unsigned status;
  std::string kind;
};

struct Limits {
  std::size_t max_inputs = 256;        // inputs per request (413 beyond)
  std::size_t max_text_bytes = 16384;  // bytes per text (400 beyond)
};

// One input: a text (seq_cls, token_cls), or a question and its context (qa).
struct Input {
  std::string text;
  std::string context;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const slimpipe_runtime::PackageInfo& package() const = 0;
  // One element of `inputs`, checked (HttpError 400 naming inputs[i]).
  virtual Input parse_input(const Json& item, std::size_t index, const Limits& limits) const = 0;
  // One result per input, in order; `batch_size` inputs per model run. Throws on failure.
  virtual std::vector<Json> run(const std::vector<const Input*>& inputs, std::int64_t batch_size) = 0;
};

// The package's engine by its task. Throws slimpipe_runtime::Error (one line) for a package it cannot run.
std::unique_ptr<Engine> load_engine(const std::filesystem::path& package_dir, const slimpipe_runtime::Options& options);

// The body of POST /v1/predict, checked: {"inputs": X}, X one input or a list of them. HttpError 400 (malformed
// JSON, wrong shape, over-long text) or 413 (more than max_inputs inputs).
std::vector<Input> parse_request(const Engine& engine, const std::string& body, const Limits& limits);

// A package folder, or a folder that holds one as runtime/ (a rank folder). Throws slimpipe_runtime::Error.
std::filesystem::path find_package(const std::filesystem::path& dir);

}  // namespace slimpipe_serve
