// Truncation, overflow windows, special tokens and padding, following Hugging Face tokenizers'
// Rust code (utils/truncation.rs, Encoding::truncate/merge_with, BertProcessing, pad).
#include "text/sequence_assembly.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "slimpipe/error.hpp"

namespace slimpipe::text {
namespace {

struct Window {
  std::size_t begin;
  std::size_t end;
};

// Encoding::truncate with direction right: windows of `max_len` tokens starting every
// max_len - stride tokens, the last one ending at the sequence end.
std::vector<Window> split_windows(std::size_t length, std::size_t max_len, std::size_t stride) {
  if (max_len >= length) return {{0, length}};
  // HF moves everything into the overflow and leaves the first window empty.
  if (max_len == 0) return {{0, 0}, {0, length}};
  if (stride >= max_len) {
    throw Error("truncation: stride " + std::to_string(stride) +
                " must be smaller than the tokens left for the truncated text (" + std::to_string(max_len) + ")");
  }
  std::vector<Window> windows;
  for (std::size_t start = 0;; start += max_len - stride) {
    const std::size_t stop = std::min(start + max_len, length);
    windows.push_back({start, stop});
    if (stop == length) break;
  }
  return windows;
}

// truncate_encodings: how many tokens each text keeps, as windows. `budget` excludes the
// special tokens.
std::pair<std::vector<Window>, std::vector<Window>> truncate(std::size_t n_first, const std::size_t* n_second,
                                                             Truncation strategy, std::size_t budget,
                                                             std::size_t stride) {
  const std::size_t n2_orig = n_second ? *n_second : 0;
  std::vector<Window> first{{0, n_first}};
  std::vector<Window> second{{0, n2_orig}};
  const std::size_t total = n_first + n2_orig;
  if (strategy == Truncation::None) return {first, second};
  if (budget == 0) {
    first = split_windows(n_first, 0, stride);
    if (n_second) second = split_windows(n2_orig, 0, stride);
    return {first, second};
  }
  if (total <= budget) return {first, second};
  const std::size_t to_remove = total - budget;

  if (strategy == Truncation::LongestFirst) {
    if (!n_second) return {split_windows(n_first, budget, stride), second};
    // The shorter text keeps everything if the longer one can absorb the cut, else both get
    // half the budget (the longer one the odd token).
    std::size_t n1 = n_first, n2 = n2_orig;
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
    if (n1 + n2 > budget) {
      n1 = budget / 2;
      n2 = n1 + budget % 2;
    }
    if (swap) std::swap(n1, n2);
    return {split_windows(n_first, n1, stride), split_windows(n2_orig, n2, stride)};
  }

  const bool only_first = strategy == Truncation::OnlyFirst;
  if (!only_first && !n_second) {
    throw Error("truncation only_second: a second text is required");
  }
  const std::size_t target = only_first ? n_first : n2_orig;
  if (target <= to_remove) {
    throw Error(std::string("truncation ") + (only_first ? "only_first" : "only_second") + ": the " +
                (only_first ? "first" : "second") + " text has " + std::to_string(target) +
                " tokens, too few to remove the " + std::to_string(to_remove) + " needed to fit max_length");
  }
  if (only_first) return {split_windows(n_first, target - to_remove, stride), second};
  return {first, split_windows(n2_orig, target - to_remove, stride)};
}

void append_special(Encoding& e, std::int32_t id, std::int32_t type_id) {
  e.ids.push_back(id);
  e.token_type_ids.push_back(type_id);
  e.attention_mask.push_back(1);
  e.special_tokens_mask.push_back(1);
  e.sequence_ids.push_back(-1);
  e.offsets.push_back({0, 0});
  e.byte_offsets.push_back({0, 0});
}

void append_window(Encoding& e, const TokenSequence& seq, Window w, std::int8_t sequence_id) {
  const auto b = static_cast<std::ptrdiff_t>(w.begin), n = static_cast<std::ptrdiff_t>(w.end);
  e.ids.insert(e.ids.end(), seq.ids.begin() + b, seq.ids.begin() + n);
  e.token_type_ids.insert(e.token_type_ids.end(), w.end - w.begin, sequence_id);
  e.attention_mask.insert(e.attention_mask.end(), w.end - w.begin, 1);
  e.special_tokens_mask.insert(e.special_tokens_mask.end(), w.end - w.begin, 0);
  e.sequence_ids.insert(e.sequence_ids.end(), w.end - w.begin, sequence_id);
  e.offsets.insert(e.offsets.end(), seq.offsets.begin() + b, seq.offsets.begin() + n);
  e.byte_offsets.insert(e.byte_offsets.end(), seq.byte_offsets.begin() + b, seq.byte_offsets.begin() + n);
}

Encoding build(const TokenSequence& first, Window wa, const TokenSequence* second, Window wb, bool add_special,
               const SpecialTokenIds& special) {
  Encoding e;
  const std::size_t n = (wa.end - wa.begin) + (second ? wb.end - wb.begin : 0) + 3;
  e.ids.reserve(n);
  if (add_special) append_special(e, special.cls, 0);
  append_window(e, first, wa, 0);
  if (add_special) append_special(e, special.sep, 0);
  if (second) {
    append_window(e, *second, wb, 1);
    if (add_special) append_special(e, special.sep, 1);
  }
  return e;
}

}  // namespace

std::vector<Encoding> assemble_features(const TokenSequence& first, const TokenSequence* second,
                                        const EncodeOptions& options, std::size_t max_length,
                                        const SpecialTokenIds& special) {
  const std::size_t added = options.add_special_tokens ? (second ? 3 : 2) : 0;
  std::size_t budget = 0;
  if (options.truncation != Truncation::None) {
    if (max_length < added) {
      throw Error("truncation: max_length " + std::to_string(max_length) + " is smaller than the " +
                  std::to_string(added) + " special tokens");
    }
    budget = max_length - added;
  }
  const std::size_t n_second = second ? second->size() : 0;
  auto [wa, wb] = truncate(first.size(), second ? &n_second : nullptr, options.truncation, budget, options.stride);

  std::vector<Encoding> features;
  const bool add = options.add_special_tokens;
  features.push_back(build(first, wa[0], second, wb[0], add, special));
  if (!options.return_overflowing_tokens) return features;
  // Encoding::merge_with order: each later first-window with every second-window, then the
  // first first-window with the later second-windows.
  for (std::size_t i = 1; i < wa.size(); ++i)
    for (const Window& w : wb) features.push_back(build(first, wa[i], second, w, add, special));
  for (std::size_t j = 1; j < wb.size(); ++j) features.push_back(build(first, wa[0], second, wb[j], add, special));
  return features;
}

void pad_features(std::vector<Encoding>& features, std::size_t target, std::size_t multiple_of, std::int32_t pad_id) {
  if (multiple_of > 0 && target % multiple_of != 0) target += multiple_of - target % multiple_of;
  for (Encoding& e : features) {
    if (e.size() >= target) continue;
    const std::size_t n = target - e.size();
    e.ids.insert(e.ids.end(), n, pad_id);
    e.token_type_ids.insert(e.token_type_ids.end(), n, 0);
    e.attention_mask.insert(e.attention_mask.end(), n, 0);
    e.special_tokens_mask.insert(e.special_tokens_mask.end(), n, 1);
    e.sequence_ids.insert(e.sequence_ids.end(), n, -1);
    e.offsets.insert(e.offsets.end(), n, Span{0, 0});
    e.byte_offsets.insert(e.byte_offsets.end(), n, Span{0, 0});
  }
}

}  // namespace slimpipe::text
