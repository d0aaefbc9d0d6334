// TorchScript export of a TaskModel, built in C++ (no Python): the weights become module parameters and
// forward(input_ids, token_type_ids, attention_mask) is compiled from source generated for this model's widths.
#pragma once

#include <filesystem>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::exporter {

// The TorchScript source of forward() for `model`, with every layer's head count and FFN width written in
// as constants. Returns logits, (start_logits, end_logits) for QA, (sequence_output, pooled_output) for a
// bare encoder. Parameters are named by module path with '.' replaced by '_'
// ("encoder_layer_0_attention_self_query_weight"). Dropout is left out (inference).
SLIMPIPE_API std::string torchscript_source(const nn::TaskModelImpl& model);

// Writes `path` (model.pt), loadable with torch::jit::load / torch.jit.load. Weights are saved as float32 on
// the CPU. Errors name the file.
SLIMPIPE_API void export_torchscript(const nn::TaskModelImpl& model, const std::filesystem::path& path);

}  // namespace slimpipe::exporter
