// FeatureSet cache keyed by split, tokenizer identity and sequence length. Builds run outside
// the lock (tokenizing SST-2 train takes seconds); a shared_future lets the others wait on it.
#include "slimpipe/tasks/feature_cache.hpp"

#include <cstdint>
#include <exception>

#include "slimpipe/hash.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {

std::string tokenizer_identity(const text::WordPieceTokenizer& tokenizer) {
  Hasher h;
  for (const std::string& token : tokenizer.vocab()) {
    const auto n = static_cast<std::uint32_t>(token.size());
    h.update(&n, sizeof n).update(token);  // length-prefixed, so ["ab","c"] != ["a","bc"]
  }
  const text::TokenizerOptions& o = tokenizer.options();
  h.update(std::string{o.do_lower_case ? '1' : '0', o.strips_accents() ? '1' : '0',
                       o.tokenize_chinese_chars ? '1' : '0', o.clean_text ? '1' : '0'});
  for (const std::string* s : {&o.unk_token, &o.cls_token, &o.sep_token, &o.pad_token, &o.continuing_subword_prefix})
    h.update(*s).update("\n", 1);
  h.update(std::to_string(o.max_input_chars_per_word));
  return h.hex();
}

std::shared_ptr<const FeatureSet> FeatureCache::get(const std::string& split, const text::WordPieceTokenizer& tokenizer,
                                                    std::int64_t max_seq_length, const Builder& build) {
  const std::string key = split + '\n' + tokenizer_identity(tokenizer) + '\n' + std::to_string(max_seq_length);
  std::promise<std::shared_ptr<const FeatureSet>> promise;
  std::shared_future<std::shared_ptr<const FeatureSet>> future;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      entries_.emplace(key, future);
      owner = true;
    }
  }
  if (!owner) return future.get();  // another caller builds (or built) it; rethrows its error

  try {
    promise.set_value(build());
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key);  // data errors may be fixed on disk; let a later call try again
    }
    promise.set_exception(std::current_exception());
  }
  return future.get();
}

}  // namespace slimpipe::tasks
