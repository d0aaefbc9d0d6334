// Fisher-Yates with SplitMix64::below: integer-only draws, unlike std::shuffle whose result depends
// on the standard library.
#include "slimpipe/train/epoch_order.hpp"

#include <algorithm>
#include <numeric>

#include "slimpipe/error.hpp"

namespace slimpipe::train {

EpochOrder::EpochOrder(std::int64_t num_features, std::int64_t batch_size, std::uint64_t seed, bool shuffle)
    : batch_size_(batch_size), shuffle_(shuffle), rng_(seed) {
  if (num_features <= 0) throw Error("training split is empty: nothing to train on");
  if (batch_size <= 0) throw Error("per_device_train_batch_size must be >= 1");
  order_.resize(static_cast<std::size_t>(num_features));
  cursor_ = order_.size();  // the first next_batch() starts epoch 1
}

void EpochOrder::start_epoch() {
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  if (shuffle_)
    for (std::size_t i = order_.size() - 1; i > 0; --i)
      std::swap(order_[i], order_[static_cast<std::size_t>(rng_.below(i + 1))]);
  cursor_ = 0;
  ++epoch_;
}

std::vector<std::int64_t> EpochOrder::next_batch() {
  if (cursor_ >= order_.size()) start_epoch();
  const std::size_t end = std::min(order_.size(), cursor_ + static_cast<std::size_t>(batch_size_));
  std::vector<std::int64_t> batch(order_.begin() + static_cast<std::ptrdiff_t>(cursor_),
                                  order_.begin() + static_cast<std::ptrdiff_t>(end));
  cursor_ = end;
  return batch;
}

}  // namespace slimpipe::train
