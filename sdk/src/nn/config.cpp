// EncoderConfig <-> config.json, and the checks that turn a bad config into a one-line Error.
// Unknown keys are carried in `extra` so a load/save cycle does not drop what transformers wrote.
#include "slimpipe/nn/config.hpp"

#include <algorithm>
#include <set>

#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/json_file.hpp"

namespace slimpipe::nn {
namespace {

const std::set<std::string> kActivations = {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu"};

std::string type_name(const Json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

std::int64_t get_int(const Json& j, const char* key, std::int64_t def, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer()) throw Error(where + ": '" + key + "' must be an integer, found " + type_name(*it));
  return it->get<std::int64_t>();
}

double get_double(const Json& j, const char* key, double def, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number()) throw Error(where + ": '" + key + "' must be a number, found " + type_name(*it));
  return it->get<double>();
}

std::string get_string(const Json& j, const char* key, const std::string& def, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_string()) throw Error(where + ": '" + key + "' must be a string, found " + type_name(*it));
  return it->get<std::string>();
}

std::int64_t parse_index(const std::string& s, const char* key, const std::string& where) {
  try {
    std::size_t used = 0;
    std::int64_t v = std::stoll(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(where + ": '" + key + "' has key '" + s + "', expected an integer");
}

std::vector<std::int64_t> int_list(const Json& v, const std::string& what, const std::string& where) {
  if (!v.is_array()) throw Error(where + ": " + what + " must be a list of integers, found " + type_name(v));
  std::vector<std::int64_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) throw Error(where + ": " + what + " must hold integers, found " + type_name(e));
    out.push_back(e.get<std::int64_t>());
  }
  return out;
}

// Keys this struct models; everything else in config.json goes to `extra`.
const std::set<std::string> kModelled = {"model_type",
                                         "vocab_size",
                                         "hidden_size",
                                         "num_hidden_layers",
                                         "num_attention_heads",
                                         "intermediate_size",
                                         "hidden_act",
                                         "max_position_embeddings",
                                         "type_vocab_size",
                                         "layer_norm_eps",
                                         "pad_token_id",
                                         "hidden_dropout_prob",
                                         "attention_probs_dropout_prob",
                                         "classifier_dropout",
                                         "task_type_vocab_size",
                                         "use_task_id",
                                         "pruned_heads",
                                         "layer_intermediate_sizes",
                                         "num_labels",
                                         "id2label",
                                         "label2id",
                                         "architectures"};

}  // namespace

std::vector<std::int64_t> EncoderConfig::kept_heads(std::int64_t layer) const {
  std::vector<std::int64_t> kept;
  auto it = pruned_heads.find(layer);
  for (std::int64_t h = 0; h < num_attention_heads; ++h) {
    if (it == pruned_heads.end() || std::find(it->second.begin(), it->second.end(), h) == it->second.end())
      kept.push_back(h);
  }
  return kept;
}

std::int64_t EncoderConfig::intermediate_size_of(std::int64_t layer) const {
  if (layer_intermediate_sizes.empty()) return intermediate_size;
  return layer_intermediate_sizes.at(static_cast<std::size_t>(layer));
}

void EncoderConfig::set_layer_width(std::int64_t layer, std::int64_t num_heads, std::int64_t intermediate) {
  if (layer < 0 || layer >= num_hidden_layers)
    throw Error("layer " + std::to_string(layer) + " does not exist, the model has " +
                std::to_string(num_hidden_layers) + " layers");
  if (num_heads < 0 || num_heads > num_attention_heads)
    throw Error("layer " + std::to_string(layer) + ": " + std::to_string(num_heads) +
                " heads requested, num_attention_heads is " + std::to_string(num_attention_heads));
  if (intermediate <= 0) throw Error("layer " + std::to_string(layer) + ": intermediate size must be positive");
  std::vector<std::int64_t> kept = kept_heads(layer);
  std::vector<std::int64_t>& pruned = pruned_heads[layer];
  // Growing back re-admits the smallest pruned ids; head identity is bookkeeping, only counts shape weights.
  while (static_cast<std::int64_t>(kept.size()) < num_heads) {
    kept.push_back(pruned.front());
    pruned.erase(pruned.begin());
  }
  for (std::size_t i = static_cast<std::size_t>(num_heads); i < kept.size(); ++i) pruned.push_back(kept[i]);
  std::sort(pruned.begin(), pruned.end());
  if (pruned.empty()) pruned_heads.erase(layer);
  if (layer_intermediate_sizes.empty() && intermediate == intermediate_size) return;
  if (layer_intermediate_sizes.empty())
    layer_intermediate_sizes.assign(static_cast<std::size_t>(num_hidden_layers), intermediate_size);
  layer_intermediate_sizes[static_cast<std::size_t>(layer)] = intermediate;
}

void EncoderConfig::validate(const std::string& where) const {
  if (model_type != "bert" && model_type != "ernie")
    throw Error(where + ": unsupported model_type '" + model_type + "' (expected bert or ernie)");
  if (!kActivations.count(hidden_act))
    throw Error(where + ": unknown hidden_act '" + hidden_act +
                "' (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
  auto positive = [&](const char* name, std::int64_t v) {
    if (v <= 0) throw Error(where + ": '" + std::string(name) + "' must be positive, found " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  positive("num_labels", num_labels);
  if (use_task_id) positive("task_type_vocab_size", task_type_vocab_size);
  if (hidden_size % num_attention_heads != 0)
    throw Error(where + ": hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
                std::to_string(num_attention_heads));
  for (const auto& [layer, heads] : pruned_heads) {
    if (layer < 0 || layer >= num_hidden_layers)
      throw Error(where + ": pruned_heads names layer " + std::to_string(layer) + ", the model has " +
                  std::to_string(num_hidden_layers) + " layers");
    for (auto h : heads)
      if (h < 0 || h >= num_attention_heads)
        throw Error(where + ": pruned_heads of layer " + std::to_string(layer) + " names head " + std::to_string(h) +
                    ", expected 0.." + std::to_string(num_attention_heads - 1));
  }
  if (!layer_intermediate_sizes.empty()) {
    if (static_cast<std::int64_t>(layer_intermediate_sizes.size()) != num_hidden_layers)
      throw Error(where + ": layer_intermediate_sizes has " + std::to_string(layer_intermediate_sizes.size()) +
                  " entries, expected num_hidden_layers = " + std::to_string(num_hidden_layers));
    for (auto n : layer_intermediate_sizes) positive("layer_intermediate_sizes[]", n);
  }
  if (!id2label.empty() && static_cast<std::int64_t>(id2label.size()) != num_labels)
    throw Error(where + ": id2label has " + std::to_string(id2label.size()) + " labels, num_labels is " +
                std::to_string(num_labels));
  auto pet = extra.find("position_embedding_type");
  if (pet != extra.end() && !pet->is_null() && *pet != "absolute")
    throw Error(where + ": position_embedding_type " + pet->dump() + " is not supported (expected \"absolute\")");
}

EncoderConfig EncoderConfig::from_json(const Json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object, found " + type_name(j));
  EncoderConfig c;
  c.model_type = get_string(j, "model_type", c.model_type, where);
  c.vocab_size = get_int(j, "vocab_size", c.vocab_size, where);
  c.hidden_size = get_int(j, "hidden_size", c.hidden_size, where);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", c.num_hidden_layers, where);
  c.num_attention_heads = get_int(j, "num_attention_heads", c.num_attention_heads, where);
  c.intermediate_size = get_int(j, "intermediate_size", c.intermediate_size, where);
  c.hidden_act = get_string(j, "hidden_act", c.hidden_act, where);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", c.max_position_embeddings, where);
  c.type_vocab_size = get_int(j, "type_vocab_size", c.type_vocab_size, where);
  c.layer_norm_eps = get_double(j, "layer_norm_eps", c.layer_norm_eps, where);
  c.pad_token_id = get_int(j, "pad_token_id", c.pad_token_id, where);
  c.hidden_dropout_prob = get_double(j, "hidden_dropout_prob", c.hidden_dropout_prob, where);
  c.attention_probs_dropout_prob = get_double(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, where);
  if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null())
    c.classifier_dropout = get_double(j, "classifier_dropout", 0.0, where);
  c.task_type_vocab_size = get_int(j, "task_type_vocab_size", c.task_type_vocab_size, where);
  if (j.contains("use_task_id")) {
    if (!j["use_task_id"].is_boolean()) throw Error(where + ": 'use_task_id' must be true or false");
    c.use_task_id = j["use_task_id"].get<bool>();
  }
  if (j.contains("pruned_heads") && !j["pruned_heads"].is_null()) {
    const Json& ph = j["pruned_heads"];
    if (!ph.is_object()) throw Error(where + ": 'pruned_heads' must be an object {\"layer\": [heads]}");
    for (const auto& [k, v] : ph.items()) {
      auto heads = int_list(v, "pruned_heads[\"" + k + "\"]", where);
      std::sort(heads.begin(), heads.end());
      heads.erase(std::unique(heads.begin(), heads.end()), heads.end());
      if (!heads.empty()) c.pruned_heads[parse_index(k, "pruned_heads", where)] = heads;
    }
  }
  if (j.contains("layer_intermediate_sizes") && !j["layer_intermediate_sizes"].is_null())
    c.layer_intermediate_sizes = int_list(j["layer_intermediate_sizes"], "'layer_intermediate_sizes'", where);
  if (j.contains("id2label") && !j["id2label"].is_null()) {
    if (!j["id2label"].is_object()) throw Error(where + ": 'id2label' must be an object");
    for (const auto& [k, v] : j["id2label"].items()) {
      if (!v.is_string()) throw Error(where + ": id2label[\"" + k + "\"] must be a string");
      c.id2label[parse_index(k, "id2label", where)] = v.get<std::string>();
    }
  }
  if (j.contains("label2id") && !j["label2id"].is_null()) {
    if (!j["label2id"].is_object()) throw Error(where + ": 'label2id' must be an object");
    for (const auto& [k, v] : j["label2id"].items()) {
      if (!v.is_number_integer()) throw Error(where + ": label2id[\"" + k + "\"] must be an integer");
      c.label2id[k] = v.get<std::int64_t>();
    }
  }
  // transformers derives num_labels from id2label; an explicit num_labels wins when both are given.
  c.num_labels = get_int(j, "num_labels", c.id2label.empty() ? 2 : static_cast<std::int64_t>(c.id2label.size()), where);
  if (j.contains("architectures") && !j["architectures"].is_null()) {
    const Json& a = j["architectures"];
    if (!a.is_array()) throw Error(where + ": 'architectures' must be a list of strings");
    for (const auto& e : a) {
      if (!e.is_string()) throw Error(where + ": 'architectures' must be a list of strings");
      c.architectures.push_back(e.get<std::string>());
    }
  }
  for (const auto& [k, v] : j.items())
    if (!kModelled.count(k)) c.extra[k] = v;
  c.validate(where);
  return c;
}

Json EncoderConfig::to_json() const {
  Json j = extra;
  if (!architectures.empty()) j["architectures"] = architectures;
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["hidden_act"] = hidden_act;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["layer_norm_eps"] = layer_norm_eps;
  j["pad_token_id"] = pad_token_id;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["classifier_dropout"] = classifier_dropout ? Json(*classifier_dropout) : Json(nullptr);
  if (model_type == "ernie" || use_task_id) {
    j["task_type_vocab_size"] = task_type_vocab_size;
    j["use_task_id"] = use_task_id;
  }
  // transformers has one intermediate_size: a uniform per-layer width (DynaBERT) is written as that;
  // only differing widths need the slimpipe-specific list, which stock transformers cannot load.
  j["intermediate_size"] = intermediate_size;
  if (!layer_intermediate_sizes.empty()) {
    bool uniform = std::all_of(layer_intermediate_sizes.begin(), layer_intermediate_sizes.end(),
                               [&](std::int64_t n) { return n == layer_intermediate_sizes.front(); });
    if (uniform)
      j["intermediate_size"] = layer_intermediate_sizes.front();
    else
      j["layer_intermediate_sizes"] = layer_intermediate_sizes;
  }
  if (!pruned_heads.empty()) {
    Json ph = Json::object();
    for (const auto& [layer, heads] : pruned_heads) ph[std::to_string(layer)] = heads;
    j["pruned_heads"] = ph;
  }
  Json i2l = Json::object(), l2i = Json::object();
  for (std::int64_t i = 0; i < num_labels; ++i) {
    auto it = id2label.find(i);
    std::string name = it != id2label.end() ? it->second : "LABEL_" + std::to_string(i);
    i2l[std::to_string(i)] = name;
    l2i[name] = i;
  }
  j["id2label"] = i2l;
  j["label2id"] = label2id.empty() ? l2i : Json(label2id);
  return j;
}

EncoderConfig EncoderConfig::load(const std::filesystem::path& file) {
  return from_json(parse_json_file(file), file.string());
}

void EncoderConfig::save(const std::filesystem::path& file) const {
  validate(file.string());
  write_file_atomic(file, to_json().dump(2) + "\n");
}

}  // namespace slimpipe::nn
