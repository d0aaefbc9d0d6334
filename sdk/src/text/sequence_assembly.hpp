// Turns the word pieces of one or two texts into model features the way Hugging Face's fast
// tokenizers do: truncation into overflow windows, [CLS]/[SEP] insertion, then padding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slimpipe/text/encoding.hpp"

namespace slimpipe::text {

// The pieces of one text, without special tokens.
struct TokenSequence {
  std::vector<std::int32_t> ids;
  std::vector<Span> offsets;       // code points
  std::vector<Span> byte_offsets;  // bytes

  std::size_t size() const { return ids.size(); }
  void clear() {
    ids.clear();
    offsets.clear();
    byte_offsets.clear();
  }
};

struct SpecialTokenIds {
  std::int32_t cls;
  std::int32_t sep;
  std::int32_t pad;
};

// All features of one example, first window first (HF order when both texts overflow:
// (a0,b0), then each later window of a with every window of b, then a0 with later windows of b).
// `max_length` is resolved (non-zero). Throws slimpipe::Error where HF's truncation fails.
std::vector<Encoding> assemble_features(const TokenSequence& first, const TokenSequence* second,
                                        const EncodeOptions& options, std::size_t max_length,
                                        const SpecialTokenIds& special);

// Pads every feature on the right to `target` tokens (rounded up to a multiple of
// `multiple_of` when non-zero). Longer features are left as they are.
void pad_features(std::vector<Encoding>& features, std::size_t target, std::size_t multiple_of, std::int32_t pad_id);

}  // namespace slimpipe::text
