// The model a strategy works on: its one input artifact, an HF model folder, loaded with the head of the
// pipeline's task. Shared by the evaluate, dynabert and ptq plugins so they check (and word) it alike.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/artifact.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::tasks {

// Throws Error (naming `plugin`, the folder or its config.json) unless there is exactly one input, it holds
// config.json, and the model's num_labels is the task's.
SLIMPIPE_API io::LoadedModel load_input_model(const std::vector<Artifact>& inputs, const Task& task,
                                              const std::string& device, const std::string& plugin);

}  // namespace slimpipe::tasks
