// Hugging Face model directories: config.json + model.safetensors (read and write) or pytorch_model.bin (read),
// plus the tokenizer files copied alongside. Pruned models are saved so stock transformers can load them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/io/tensor_map.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::io {

struct SLIMPIPE_API LoadOptions {
  std::optional<nn::TaskHead> head;  // unset: from config.json "architectures" (none listed: bare encoder)
  std::string device = "cpu";        // "cpu" or "cuda[:N]"
  // Leave head (and pooler) weights the checkpoint lacks at their random init instead of failing,
  // as when starting fine-tuning from a pre-trained encoder. Listed in LoadedModel::initialized_keys.
  bool allow_new_head = false;
};

struct SLIMPIPE_API LoadedModel {
  nn::EncoderConfig config;
  nn::TaskModel model{nullptr};  // in eval() mode, on the requested device
  std::filesystem::path weights_file;
  std::vector<std::string> unused_keys;       // in the file, not used by the model (MLM heads, buffers)
  std::vector<std::string> initialized_keys;  // with allow_new_head: left at random init
};

// Copies checkpoint tensors into `model`; keys may carry a bert./ernie. prefix or none. `where` names the file
// in errors. Throws Error for a missing tensor, a shape that disagrees with the config, or a non-float dtype.
SLIMPIPE_API void load_weights(nn::TaskModelImpl& model, const TensorMap& tensors, const std::string& where,
                               bool allow_new_head = false, std::vector<std::string>* unused_keys = nullptr,
                               std::vector<std::string>* initialized_keys = nullptr);

// The model's parameters under transformers' key names (CPU, contiguous).
SLIMPIPE_API TensorMap checkpoint_tensors(const nn::TaskModelImpl& model);

// Reads dir/config.json and dir/model.safetensors (preferred, as in transformers) or dir/pytorch_model.bin.
SLIMPIPE_API LoadedModel load_model(const std::filesystem::path& dir, const LoadOptions& options = {});

struct SLIMPIPE_API SaveOptions {
  // Copies vocab.txt, tokenizer_config.json, special_tokens_map.json and tokenizer.json found here.
  std::optional<std::filesystem::path> tokenizer_dir;
  std::vector<std::string> vocab;  // non-empty: written as vocab.txt, one token a line
  nlohmann::json tokenizer_config; // non-null: written as tokenizer_config.json
};

// Writes dir/config.json (architectures set from the head) and dir/model.safetensors; creates dir.
SLIMPIPE_API void save_model(const std::filesystem::path& dir, const nn::TaskModelImpl& model,
                             const SaveOptions& options = {});

}  // namespace slimpipe::io
