// tokenizer_config.json <-> TokenizerOptions, in the layout Hugging Face transformers writes
// (special tokens as strings or {"content": ...} objects, strip_accents null when unset).
#include "slimpipe/text/tokenizer_options.hpp"

#include <limits>

#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/json_file.hpp"

namespace slimpipe::text {
namespace {

std::string where(const std::string& source, const char* key) { return source + ": key '" + key + "'"; }

void read_bool(const Json& config, const std::string& source, const char* key, bool& out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return;
  if (!it->is_boolean()) throw Error(where(source, key) + ": expected true or false, got " + it->dump());
  out = it->get<bool>();
}

void read_token(const Json& config, const std::string& source, const char* key, std::string& out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return;
  if (it->is_string()) {
    out = it->get<std::string>();
    return;
  }
  // transformers writes AddedToken objects as {"__type": "AddedToken", "content": "[UNK]", ...}.
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    out = (*it)["content"].get<std::string>();
    return;
  }
  throw Error(where(source, key) + ": expected a token string, got " + it->dump());
}

void read_length(const Json& config, const std::string& source, const char* key, std::size_t& out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return;
  if (it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    out = it->get<std::size_t>();
  } else if (it->is_number_float() && it->get<double>() >= 0) {
    // "no limit" is saved as int(1e30), which JSON readers see as a float.
    const double v = it->get<double>();
    out = v >= static_cast<double>(std::numeric_limits<std::size_t>::max()) ? std::numeric_limits<std::size_t>::max()
                                                                            : static_cast<std::size_t>(v);
  } else {
    throw Error(where(source, key) + ": expected a non-negative integer, got " + it->dump());
  }
}

}  // namespace

TokenizerOptions TokenizerOptions::from_json(const Json& config, const std::string& source) {
  if (!config.is_object()) throw Error(source + ": expected a JSON object, got " + config.type_name());
  TokenizerOptions o;
  read_bool(config, source, "do_lower_case", o.do_lower_case);
  if (auto it = config.find("strip_accents"); it != config.end() && !it->is_null()) {
    bool strip = false;
    read_bool(config, source, "strip_accents", strip);
    o.strip_accents = strip;
  }
  read_bool(config, source, "tokenize_chinese_chars", o.tokenize_chinese_chars);
  read_bool(config, source, "clean_text", o.clean_text);
  read_token(config, source, "unk_token", o.unk_token);
  read_token(config, source, "cls_token", o.cls_token);
  read_token(config, source, "sep_token", o.sep_token);
  read_token(config, source, "pad_token", o.pad_token);
  read_token(config, source, "mask_token", o.mask_token);
  read_length(config, source, "model_max_length", o.model_max_length);
  read_length(config, source, "max_input_chars_per_word", o.max_input_chars_per_word);
  return o;
}

TokenizerOptions TokenizerOptions::load(const std::filesystem::path& tokenizer_config_json) {
  // Depth-checked before parsing: a file nested thousands of levels deep is an error, not a stack overflow.
  return from_json(parse_json_file(tokenizer_config_json), tokenizer_config_json.string());
}

Json TokenizerOptions::to_json() const {
  Json j = Json::object();
  j["tokenizer_class"] = "BertTokenizer";
  j["do_lower_case"] = do_lower_case;
  j["strip_accents"] = strip_accents ? Json(*strip_accents) : Json(nullptr);
  j["tokenize_chinese_chars"] = tokenize_chinese_chars;
  j["clean_text"] = clean_text;
  j["unk_token"] = unk_token;
  j["cls_token"] = cls_token;
  j["sep_token"] = sep_token;
  j["pad_token"] = pad_token;
  j["mask_token"] = mask_token;
  j["model_max_length"] = model_max_length;
  if (max_input_chars_per_word != 100) j["max_input_chars_per_word"] = max_input_chars_per_word;
  return j;
}

void TokenizerOptions::save(const std::filesystem::path& tokenizer_config_json) const {
  write_file_atomic(tokenizer_config_json, to_json().dump(2) + "\n");
}

}  // namespace slimpipe::text
