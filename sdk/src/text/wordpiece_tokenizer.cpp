// WordPieceTokenizer: loading and saving in Hugging Face layout, and the encode entry points
// that chain TextEncoder (pieces), assemble_features (truncation, specials) and padding.
#include "slimpipe/text/wordpiece_tokenizer.hpp"

#include <limits>
#include <memory>
#include <system_error>

#include "slimpipe/error.hpp"
#include "text/sequence_assembly.hpp"
#include "text/text_encoder.hpp"
#include "text/wordpiece_vocab.hpp"

namespace slimpipe::text {
namespace {

NormalizerSettings normalizer_settings(const TokenizerOptions& o) {
  NormalizerSettings s;
  s.clean_text = o.clean_text;
  s.handle_chinese_chars = o.tokenize_chinese_chars;
  s.strip_accents = o.strips_accents();
  s.lowercase = o.do_lower_case;
  return s;
}

std::int32_t required_id(const WordPieceVocab& vocab, const std::string& token, const char* role) {
  const std::int32_t id = vocab.find(token);
  if (id < 0) throw Error(std::string("the vocabulary has no ") + role + " '" + token + "'");
  return id;
}

std::size_t resolved_max_length(const EncodeOptions& options, const TokenizerOptions& tokenizer) {
  return options.max_length > 0 ? options.max_length : tokenizer.model_max_length;
}

void pad(std::vector<Encoding>& features, const EncodeOptions& options, std::size_t max_length, std::int32_t pad_id) {
  if (options.padding == Padding::None || features.empty()) return;
  std::size_t target = 0;
  if (options.padding == Padding::MaxLength) {
    if (max_length == std::numeric_limits<std::size_t>::max()) {
      throw Error("padding to max_length needs EncodeOptions::max_length or a finite model_max_length");
    }
    target = max_length;
  } else {
    for (const Encoding& e : features) target = std::max(target, e.size());
  }
  pad_features(features, target, options.pad_to_multiple_of, pad_id);
}

}  // namespace

struct TokenizerState {
  TokenizerState(std::vector<std::string> tokens, const TokenizerOptions& options)
      : vocab(std::move(tokens), options.continuing_subword_prefix) {}
  WordPieceVocab vocab;
  std::unique_ptr<TextEncoder> encoder;  // refers to `vocab`, so the state never moves
};

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, TokenizerOptions options)
    : options_(std::move(options)) {
  if (vocab.empty()) throw Error("the vocabulary is empty");
  auto state = std::make_shared<TokenizerState>(std::move(vocab), options_);
  const WordPieceVocab& v = state->vocab;
  unk_id_ = required_id(v, options_.unk_token, "unk_token");
  cls_id_ = required_id(v, options_.cls_token, "cls_token");
  sep_id_ = required_id(v, options_.sep_token, "sep_token");
  pad_id_ = required_id(v, options_.pad_token, "pad_token");
  mask_id_ = v.find(options_.mask_token);  // only masked-LM data needs it
  std::vector<TextEncoder::SpecialToken> specials{{options_.unk_token, unk_id_},
                                                  {options_.cls_token, cls_id_},
                                                  {options_.sep_token, sep_id_},
                                                  {options_.pad_token, pad_id_}};
  if (mask_id_ >= 0) specials.push_back({options_.mask_token, mask_id_});
  state->encoder = std::make_unique<TextEncoder>(v, normalizer_settings(options_), unk_id_,
                                                 options_.max_input_chars_per_word, std::move(specials));
  state_ = std::move(state);
}

WordPieceTokenizer WordPieceTokenizer::from_files(const std::filesystem::path& vocab_txt,
                                                  const std::filesystem::path& tokenizer_config_json) {
  TokenizerOptions options;
  if (!tokenizer_config_json.empty()) options = TokenizerOptions::load(tokenizer_config_json);
  std::vector<std::string> tokens = WordPieceVocab::read_file(vocab_txt);
  try {
    return WordPieceTokenizer(std::move(tokens), std::move(options));
  } catch (const Error& e) {
    throw Error(vocab_txt.string() + ": " + e.what());
  }
}

WordPieceTokenizer WordPieceTokenizer::from_directory(const std::filesystem::path& dir) {
  const std::filesystem::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  return from_files(dir / "vocab.txt", std::filesystem::exists(config, ec) ? config : std::filesystem::path());
}

void WordPieceTokenizer::save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the directory: " + ec.message());
  state_->vocab.write_file(dir / "vocab.txt");
  options_.save(dir / "tokenizer_config.json");
}

std::vector<Encoding> WordPieceTokenizer::encode_features(std::string_view first, const std::string_view* second,
                                                          const EncodeOptions& options) const {
  const TextEncoder& encoder = *state_->encoder;
  // Per-thread buffers: encoding many short texts then allocates nothing per text or token.
  thread_local PreTokenizedText scratch;
  thread_local TokenSequence a, b;
  encoder.encode(first, a, scratch);
  if (second) encoder.encode(*second, b, scratch);
  return assemble_features(a, second ? &b : nullptr, options, resolved_max_length(options, options_),
                           {cls_id_, sep_id_, pad_id_});
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  EncodeOptions options;
  options.add_special_tokens = false;
  const Encoding e = encode(text, options);
  std::vector<std::string> pieces;
  pieces.reserve(e.ids.size());
  for (std::int32_t id : e.ids) pieces.push_back(state_->vocab.tokens()[static_cast<std::size_t>(id)]);
  return pieces;
}

Encoding WordPieceTokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<Encoding> features = encode_features(text, nullptr, options);
  pad(features, options, resolved_max_length(options, options_), pad_id_);
  Encoding main = std::move(features.front());
  main.overflowing.assign(std::make_move_iterator(features.begin() + 1), std::make_move_iterator(features.end()));
  return main;
}

Encoding WordPieceTokenizer::encode_pair(std::string_view first, std::string_view second,
                                         const EncodeOptions& options) const {
  std::vector<Encoding> features = encode_features(first, &second, options);
  pad(features, options, resolved_max_length(options, options_), pad_id_);
  Encoding main = std::move(features.front());
  main.overflowing.assign(std::make_move_iterator(features.begin() + 1), std::make_move_iterator(features.end()));
  return main;
}

BatchEncoding WordPieceTokenizer::encode_batch(const std::vector<std::string_view>& texts,
                                               const EncodeOptions& options) const {
  BatchEncoding batch;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for (Encoding& e : encode_features(texts[i], nullptr, options)) {
      batch.features.push_back(std::move(e));
      batch.overflow_to_sample_mapping.push_back(i);
    }
  }
  pad(batch.features, options, resolved_max_length(options, options_), pad_id_);
  return batch;
}

BatchEncoding WordPieceTokenizer::encode_pair_batch(const std::vector<std::string_view>& firsts,
                                                    const std::vector<std::string_view>& seconds,
                                                    const EncodeOptions& options) const {
  if (firsts.size() != seconds.size()) {
    throw Error("encode_pair_batch: " + std::to_string(firsts.size()) + " first texts but " +
                std::to_string(seconds.size()) + " second texts");
  }
  BatchEncoding batch;
  for (std::size_t i = 0; i < firsts.size(); ++i) {
    for (Encoding& e : encode_features(firsts[i], &seconds[i], options)) {
      batch.features.push_back(std::move(e));
      batch.overflow_to_sample_mapping.push_back(i);
    }
  }
  pad(batch.features, options, resolved_max_length(options, options_), pad_id_);
  return batch;
}

std::int32_t WordPieceTokenizer::token_to_id(std::string_view token) const { return state_->vocab.find(token); }

const std::string& WordPieceTokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= state_->vocab.tokens().size()) {
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                std::to_string(state_->vocab.tokens().size()) + " tokens");
  }
  return state_->vocab.tokens()[static_cast<std::size_t>(id)];
}

std::size_t WordPieceTokenizer::vocab_size() const { return state_->vocab.tokens().size(); }

const std::vector<std::string>& WordPieceTokenizer::vocab() const { return state_->vocab.tokens(); }

}  // namespace slimpipe::text
