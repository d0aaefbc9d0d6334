// Options of the synthetic NER generator (docs/data.md, "token_cls"). Kept out of synthetic.hpp so
// that the many files including that header do not depend on them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::data {

struct SyntheticTokenClsOptions {
  // Probability that a PER, LOC, ORG or fruit slot is filled with one of the ambiguous words
  // (jordan, chelsea, apple, ...), whose tag only the surrounding words decide; the other fills
  // come from gazetteers whose words have one tag. In [0, 1]. 0.3 is the generator's original
  // rate: synthetic_token_cls(size, seed) uses it, and the same options give the same examples.
  double context_rate = 0.3;
  // Before every slot but a template's first, 0 to context_gap filler words (tagged O: "very",
  // "old", "quiet", ...; drawn uniformly), so the word that decides an ambiguous slot ("in",
  // "works at", "ate the") can be several words away. In [0, kMaxContextGap]; 0 (the original
  // generator) inserts none.
  int context_gap = 0;
  static constexpr int kMaxContextGap = 8;
};

// synthetic_token_cls (synthetic.hpp) with options. Throws Error when an option is out of range.
SLIMPIPE_API TokenClsDataset synthetic_token_cls(std::size_t size, std::uint64_t seed,
                                                 const SyntheticTokenClsOptions& options);

}  // namespace slimpipe::data
