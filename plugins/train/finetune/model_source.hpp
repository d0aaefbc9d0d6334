// Where a fine-tuning run starts: an HF model folder re-headed for the task, or a freshly
// initialised encoder of a given size with the task's (or a given) vocabulary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::finetune {

struct StartingModel {
  nn::TaskModel model{nullptr};
  std::optional<text::WordPieceTokenizer> tokenizer;
  io::SaveOptions save;     // how to write the tokenizer files next to the trained weights
  std::string description;  // for the log
};

struct EncoderSize {
  std::int64_t hidden_size = 128, num_hidden_layers = 2, num_attention_heads = 2, intermediate_size = 512,
               max_position_embeddings = 128;
  double hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1;
};

// The model in `dir` (config.json + model.safetensors | pytorch_model.bin + vocab.txt) with the task's
// head: a head of another kind or label count is replaced by a freshly initialised one.
StartingModel load_pretrained(const std::filesystem::path& dir, const HeadSpec& head);

// A BERT encoder of `size` with HF initialisation (seeded by the caller). `vocab_txt` empty: the
// task's vocabulary() words, with default tokenizer options.
StartingModel create_from_scratch(const EncoderSize& size, const std::filesystem::path& vocab_txt, Task& task,
                                  const HeadSpec& head);

}  // namespace slimpipe::finetune
