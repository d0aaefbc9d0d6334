// The order in which a training loop visits its features: a fresh permutation per epoch from a
// seeded SplitMix64, so the same seed gives the same batches on every platform and thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe/data/random.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::train {

class SLIMPIPE_API EpochOrder {
 public:
  EpochOrder(std::int64_t num_features, std::int64_t batch_size, std::uint64_t seed, bool shuffle = true);

  // The next batch of feature indices; starts a new, reshuffled epoch when the current one is done.
  // The last batch of an epoch may be smaller (DataLoader with drop_last = false).
  std::vector<std::int64_t> next_batch();
  std::int64_t epoch() const { return epoch_; }  // epochs started so far

 private:
  void start_epoch();

  std::int64_t batch_size_;
  bool shuffle_;
  data::SplitMix64 rng_;
  std::vector<std::int64_t> order_;
  std::size_t cursor_ = 0;
  std::int64_t epoch_ = 0;
};

}  // namespace slimpipe::train
