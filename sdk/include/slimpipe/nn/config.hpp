// EncoderConfig: a BERT / ERNIE 3.0 config.json, field for field, plus the per-layer widths of pruned models.
// Plain data (no LibTorch), so tools that only inspect a model directory stay cheap to compile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::nn {

using Json = nlohmann::json;

// Field names and defaults are those of transformers' BertConfig / ErnieConfig, so a config.json
// round-trips without renaming. Fields slimpipe does not model are kept in `extra` and written back.
struct SLIMPIPE_API EncoderConfig {
  std::string model_type = "bert";  // "bert" | "ernie"
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_hidden_layers = 12;
  std::int64_t num_attention_heads = 12;  // of the unpruned model: fixes head_dim
  std::int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  // "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" (tanh), "relu"
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  std::int64_t pad_token_id = 0;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::optional<double> classifier_dropout;  // null: hidden_dropout_prob, as in transformers
  std::int64_t task_type_vocab_size = 3;     // ERNIE 3.0
  bool use_task_id = false;                  // ERNIE 3.0: adds task_type_embeddings

  // {layer: [head ids removed]}, ids of the unpruned layer, as transformers writes it.
  std::map<std::int64_t, std::vector<std::int64_t>> pruned_heads;
  // slimpipe-specific: one FFN width per layer, only when they differ (empty: all intermediate_size).
  std::vector<std::int64_t> layer_intermediate_sizes;

  // Task head.
  std::int64_t num_labels = 2;
  std::map<std::int64_t, std::string> id2label;  // empty: LABEL_0..LABEL_{n-1} on save
  std::map<std::string, std::int64_t> label2id;
  std::vector<std::string> architectures;  // e.g. "BertForSequenceClassification"

  Json extra = Json::object();  // unmodelled keys (transformers_version, torch_dtype, ...)

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Heads still present in `layer`, as ids of the unpruned layer in ascending order: the order of
  // their rows in the query/key/value weights (transformers keeps survivors in order).
  std::vector<std::int64_t> kept_heads(std::int64_t layer) const;
  std::int64_t num_heads(std::int64_t layer) const { return static_cast<std::int64_t>(kept_heads(layer).size()); }
  std::int64_t intermediate_size_of(std::int64_t layer) const;
  // Records that `layer` now has `num_heads` heads and `intermediate_size` neurons. Fewer heads: the last
  // surviving ids join pruned_heads (weights keep survivors first, so the first ids are the ones kept).
  void set_layer_width(std::int64_t layer, std::int64_t num_heads, std::int64_t intermediate_size);
  double classifier_dropout_prob() const { return classifier_dropout.value_or(hidden_dropout_prob); }

  // Throws Error naming `where` (the config file) for inconsistent or unsupported values.
  void validate(const std::string& where = "config") const;

  static EncoderConfig from_json(const Json& j, const std::string& where = "config");
  Json to_json() const;
  static EncoderConfig load(const std::filesystem::path& file);  // reads and validates
  void save(const std::filesystem::path& file) const;
};

}  // namespace slimpipe::nn
