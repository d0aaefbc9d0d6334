// FeatureSets of one task, built once per (split, tokenizer vocabulary, max_seq_length) and shared
// by every pipeline instance that asks, also when they ask at the same time.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::tasks {

// SHA-1 of the vocabulary and the normalization options: two tokenizers with the same identity
// produce the same ids, so their features can be shared.
SLIMPIPE_API std::string tokenizer_identity(const text::WordPieceTokenizer& tokenizer);

class SLIMPIPE_API FeatureCache {
 public:
  using Builder = std::function<std::shared_ptr<const FeatureSet>()>;

  // The cached set for this key, or the result of `build()`. Concurrent callers with the same
  // key wait for a single build; different keys build in parallel. A build that throws is not
  // cached: every waiting caller gets the exception, and a later call tries again.
  std::shared_ptr<const FeatureSet> get(const std::string& split, const text::WordPieceTokenizer& tokenizer,
                                        std::int64_t max_seq_length, const Builder& build);

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_future<std::shared_ptr<const FeatureSet>>> entries_;
};

}  // namespace slimpipe::tasks
