// Hugging Face model directories: config.json + model.safetensors (read and write) or pytorch_model.bin (read),
// plus the tokenizer files copied alongside. Pruned models are saved so stock transformers can load them.
#pragma once

#include <cstdint>
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
  // In the file, not used by the model, and safe to drop: MLM / NSP heads, a pooler the head does not use.
  std::vector<std::string> unused_keys;
  std::vector<std::string> initialized_keys;  // with allow_new_head: left at random init
};

// Copies checkpoint tensors into `model`; keys may carry a bert./ernie. prefix or none. `where` names the file
// in errors. Throws Error for a missing tensor, a shape that disagrees with the config, a non-float dtype, or
// a tensor the config does not use ("<where>: tensor bert.encoder.layer.1.output.dense.weight is not used by
// config.json (num_hidden_layers = 1)"). Tensors transformers' checkpoints carry beside the model (position_ids,
// the cls.* MLM / NSP heads, a pooler the head does not use, a task head under a bare encoder) are dropped and
// listed in `unused_keys`.
SLIMPIPE_API void load_weights(nn::TaskModelImpl& model, const TensorMap& tensors, const std::string& where,
                               bool allow_new_head = false, std::vector<std::string>* unused_keys = nullptr,
                               std::vector<std::string>* initialized_keys = nullptr);

// The model's parameters under transformers' key names (CPU, contiguous).
SLIMPIPE_API TensorMap checkpoint_tensors(const nn::TaskModelImpl& model);

// Number of entries in a vocab.txt, counted as the tokenizer does (one a line).
SLIMPIPE_API std::int64_t count_vocab_entries(const std::filesystem::path& vocab_txt);

// Throws Error when dir/vocab.txt has more entries than config.vocab_size ("<dir>/vocab.txt: 30600 entries, more
// than config.json's vocab_size 30522 ..."): the tokenizer would produce ids the embedding has no row for.
// A folder without vocab.txt passes.
SLIMPIPE_API void check_vocab_fits(const std::filesystem::path& dir, const nn::EncoderConfig& config);

// Reads dir/config.json and dir/model.safetensors (preferred, as in transformers) or dir/pytorch_model.bin,
// after check_vocab_fits.
SLIMPIPE_API LoadedModel load_model(const std::filesystem::path& dir, const LoadOptions& options = {});

struct SLIMPIPE_API SaveOptions {
  // Copies vocab.txt, tokenizer_config.json, special_tokens_map.json and tokenizer.json found here.
  std::optional<std::filesystem::path> tokenizer_dir;
  std::vector<std::string> vocab;   // non-empty: written as vocab.txt, one token a line
  nlohmann::json tokenizer_config;  // non-null: written as tokenizer_config.json
};

// Writes dir/config.json (architectures set from the head) and dir/model.safetensors; creates dir.
SLIMPIPE_API void save_model(const std::filesystem::path& dir, const nn::TaskModelImpl& model,
                             const SaveOptions& options = {});

}  // namespace slimpipe::io
