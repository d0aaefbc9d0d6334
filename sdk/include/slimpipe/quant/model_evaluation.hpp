// One model folder evaluated on a task split example by example (slimpipe/tasks/example_scores.hpp): an fp32 model
// as it is, a quantized one through its plan's fake-quant hook (the int8 arithmetic in float, as ptq evaluated it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/tasks/example_scores.hpp"

namespace slimpipe::quant {

SLIMPIPE_API tasks::ExampleEvaluation evaluate_model_folder(const std::filesystem::path& dir, bool quantized,
                                                            Task& task, const tasks::ExampleScoring& scoring,
                                                            const std::string& device, std::int64_t max_seq_length,
                                                            std::int64_t batch, const std::string& split = "eval");

// The same for a task that does not score example by example: its metrics only.
SLIMPIPE_API Metrics evaluate_model_folder_metrics(const std::filesystem::path& dir, bool quantized, Task& task,
                                                   const std::string& device, std::int64_t max_seq_length,
                                                   std::int64_t batch, const std::string& split = "eval");

}  // namespace slimpipe::quant
