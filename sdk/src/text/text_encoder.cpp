// Greedy longest-match-first WordPiece over pre-tokenized words, with offsets mapped back to
// the original text through the normalizer's per-byte origins.
#include "text/text_encoder.hpp"

#include <algorithm>

#include "text/utf8.hpp"

namespace slimpipe::text {

TextEncoder::TextEncoder(const WordPieceVocab& vocab, NormalizerSettings settings, std::int32_t unk_id,
                         std::size_t max_input_chars_per_word, std::vector<SpecialToken> special_tokens)
    : vocab_(vocab),
      settings_(settings),
      unk_id_(unk_id),
      max_input_chars_per_word_(max_input_chars_per_word),
      special_tokens_(std::move(special_tokens)) {
  special_tokens_.erase(std::remove_if(special_tokens_.begin(), special_tokens_.end(),
                                       [](const SpecialToken& t) { return t.text.empty(); }),
                        special_tokens_.end());
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
  for (const SpecialToken& t : special_tokens_) special_first_byte_[static_cast<unsigned char>(t.text[0])] = true;
}

std::size_t TextEncoder::find_special(std::string_view text, std::size_t from, std::size_t& match) const {
  if (special_tokens_.empty()) return std::string_view::npos;
  for (std::size_t pos = from; pos < text.size(); ++pos) {
    if (!special_first_byte_[static_cast<unsigned char>(text[pos])]) continue;
    for (std::size_t i = 0; i < special_tokens_.size(); ++i) {
      if (text.compare(pos, special_tokens_[i].text.size(), special_tokens_[i].text) == 0) {
        match = i;
        return pos;
      }
    }
  }
  return std::string_view::npos;
}

void TextEncoder::encode(std::string_view text, TokenSequence& out, PreTokenizedText& scratch) const {
  out.clear();
  std::size_t pos = 0;
  std::uint32_t char_index = 0;
  while (pos <= text.size()) {
    std::size_t match = 0;
    const std::size_t special = find_special(text, pos, match);
    const std::size_t segment_end = special == std::string_view::npos ? text.size() : special;
    scratch.clear();
    char_index = pre_tokenize(text, pos, segment_end, char_index, settings_, scratch);
    add_words(text, scratch, out);
    if (special == std::string_view::npos) break;

    const std::string& token = special_tokens_[match].text;
    std::uint32_t chars = 0;
    for (char c : token) chars += utf8::is_continuation_byte(c) ? 0 : 1;
    out.ids.push_back(special_tokens_[match].id);
    out.offsets.push_back({char_index, char_index + chars});
    out.byte_offsets.push_back({special, special + token.size()});
    char_index += chars;
    pos = special + token.size();
  }
}

void TextEncoder::add_words(std::string_view text, const PreTokenizedText& words, TokenSequence& out) const {
  for (const PreTokenizedText::Word& word : words.words) add_word(text, words, word, out);
}

void TextEncoder::add_word(std::string_view text, const PreTokenizedText& words, const PreTokenizedText::Word& word,
                           TokenSequence& out) const {
  const std::string_view normalized = words.normalized;
  // Maps the normalized byte range [b, e) to spans of the original text.
  const auto push = [&](std::int32_t id, std::uint32_t b, std::uint32_t e) {
    const CharOrigin first = words.origin[b], last = words.origin[e - 1];
    std::size_t last_end = last.byte;
    utf8::decode(text, last_end);
    out.ids.push_back(id);
    out.offsets.push_back({first.index, last.index + std::size_t{1}});
    out.byte_offsets.push_back({first.byte, last_end});
  };
  if (word.chars > max_input_chars_per_word_) {
    push(unk_id_, word.begin, word.end);
    return;
  }
  const std::size_t rollback = out.ids.size();
  std::uint32_t start = word.begin;
  while (start < word.end) {
    const bool initial = start == word.begin;
    const std::size_t longest = initial ? vocab_.max_initial_bytes() : vocab_.max_continuation_bytes();
    std::uint32_t end = static_cast<std::uint32_t>(std::min<std::size_t>(word.end, start + longest));
    while (end > start && end < word.end && utf8::is_continuation_byte(normalized[end])) --end;
    std::int32_t id = -1;
    while (end > start) {
      const std::string_view piece = normalized.substr(start, end - start);
      id = initial ? vocab_.find_initial(piece) : vocab_.find_continuation(piece);
      if (id >= 0) break;
      do {
        --end;
      } while (end > start && utf8::is_continuation_byte(normalized[end]));
    }
    if (id < 0) {
      // A word with any piece missing becomes one unknown token, as in HF.
      out.ids.resize(rollback);
      out.offsets.resize(rollback);
      out.byte_offsets.resize(rollback);
      push(unk_id_, word.begin, word.end);
      return;
    }
    push(id, start, end);
    start = end;
  }
}

}  // namespace slimpipe::text
