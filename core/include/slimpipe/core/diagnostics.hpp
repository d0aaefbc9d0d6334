// Positioned error messages (`file:line:col: message`) collected while checking a pipeline, so
// that every problem is reported in one pass before anything runs.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/error.hpp"

namespace slimpipe::core {

struct SourcePos {
  std::string file;  // the pipeline file, or "--set" for command-line overrides
  int line = 0;      // 1-based; 0 when unknown
  int col = 0;
};

struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string str() const;  // "file:line:col: message"
};

// Thrown once checking is over, when any diagnostic was recorded. what() lists them all.
class SpecError : public Error {
 public:
  explicit SpecError(std::vector<Diagnostic> diags);
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }

 private:
  std::vector<Diagnostic> diags_;
};

// Edit distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b);
// " (did you mean 'x'?)" for the closest candidate within reach, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace slimpipe::core
