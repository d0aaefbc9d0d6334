// Tagger: whitespace words, the package's tokenizer, the model, and the token_cls evaluation's word-level BIO
// decoding. A token belongs to the last word that starts at or before its first byte, and a word's tag is the
// argmax at its first token, as featurize_token_cls and the task's evaluate assign them; words without a token in
// the window (cut off, or only characters the tokenizer drops) take no part in the chunking, as in evaluation.
#include "slimpipe_runtime/tagger.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "slimpipe/error.hpp"
#include "slimpipe/text/words.hpp"
#include "text_package.hpp"

namespace slimpipe_runtime {

namespace text = slimpipe::text;
namespace metrics = slimpipe::metrics;

namespace {

// A text ready for the model: its encoding and words, and for each word the first and last token it owns.
struct Prepared {
  text::Encoding encoding;
  std::vector<text::Word> words;
  std::vector<std::int32_t> first_token, last_token;  // -1: no token
  bool truncated = false;
};

}  // namespace

struct Tagger::Impl {
  Model model;
  text::WordPieceTokenizer tokenizer;
  metrics::ChunkMode chunk_mode = metrics::ChunkMode::Lenient;
  text::EncodeOptions encode_options;
  std::mutex mutex;  // Model::run is not thread-safe
  detail::PaddedBatch batch;

  explicit Impl(detail::TextPackage p) : model(std::move(p.model)), tokenizer(std::move(p.tokenizer)) {}

  text::Encoding encode(const std::string& t, bool with_overflow) const {
    text::EncodeOptions o = encode_options;
    o.return_overflowing_tokens = with_overflow;
    try {
      return tokenizer.encode(t, o);
    } catch (const slimpipe::Error& e) {
      throw Error(std::string("predict: ") + e.what());
    }
  }

  Prepared prepare(const std::string& t) const {
    Prepared p;
    p.encoding = encode(t, true);
    p.truncated = !p.encoding.overflowing.empty();
    p.encoding.overflowing.clear();
    p.words = text::split_whitespace(t);
    p.first_token.assign(p.words.size(), -1);
    p.last_token.assign(p.words.size(), -1);
    std::vector<std::size_t> begins(p.words.size());
    for (std::size_t w = 0; w < p.words.size(); ++w) begins[w] = p.words[w].bytes.begin;
    for (std::size_t t = 0; t < p.encoding.size(); ++t) {
      if (p.encoding.sequence_ids[t] != 0) continue;  // [CLS], [SEP]
      const auto it = std::upper_bound(begins.begin(), begins.end(), p.encoding.byte_offsets[t].begin);
      if (it == begins.begin()) continue;  // cannot happen: tokens start inside words
      const auto w = static_cast<std::size_t>(it - begins.begin()) - 1;
      if (p.first_token[w] < 0) p.first_token[w] = static_cast<std::int32_t>(t);
      p.last_token[w] = static_cast<std::int32_t>(t);
    }
    return p;
  }

  // Word tags from the logits of row `r`, then the entities of the tagged words.
  Tagging decode(const std::string& t, const Prepared& p, const Output& o, std::size_t r) const {
    const std::vector<std::string>& labels = model.package()->labels;
    const auto n = static_cast<std::size_t>(o.num_labels);
    Tagging out;
    out.truncated = p.truncated;
    out.words.resize(p.words.size());
    std::vector<std::size_t> tagged;  // the words with a tag, in order: the sequence the chunks index
    std::vector<std::string> tags;
    for (std::size_t w = 0; w < p.words.size(); ++w) {
      TaggedWord& tw = out.words[w];
      tw.bytes = p.words[w].bytes;
      tw.chars = p.words[w].chars;
      if (p.first_token[w] < 0) continue;
      const float* l =
          o.logits + (r * static_cast<std::size_t>(o.seq) + static_cast<std::size_t>(p.first_token[w])) * n;
      const auto best = static_cast<std::size_t>(std::max_element(l, l + n) - l);
      double sum = 0;
      for (std::size_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(l[j] - l[best]));
      tw.label_id = static_cast<std::int64_t>(best);
      tw.label = labels[best];
      tw.score = static_cast<float>(1.0 / sum);
      tagged.push_back(w);
      tags.push_back(tw.label);
    }
    for (const metrics::Chunk& c : metrics::extract_chunks(tags, chunk_mode)) {
      Entity e;
      e.type = c.type;
      e.first_word = tagged[c.begin];
      e.end_word = tagged[c.end - 1] + 1;
      const auto first = static_cast<std::size_t>(p.first_token[e.first_word]);
      const auto last = static_cast<std::size_t>(p.last_token[e.end_word - 1]);
      e.byte_start = p.encoding.byte_offsets[first].begin;
      e.byte_end = p.encoding.byte_offsets[last].end;
      e.start = p.encoding.offsets[first].begin;
      e.end = p.encoding.offsets[last].end;
      e.text = t.substr(e.byte_start, e.byte_end - e.byte_start);
      double score = 0;
      for (std::size_t i = c.begin; i < c.end; ++i) score += out.words[tagged[i]].score;
      e.score = static_cast<float>(score / static_cast<double>(c.end - c.begin));
      out.entities.push_back(std::move(e));
    }
    return out;
  }
};

Tagger::Tagger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tagger::Tagger(Tagger&&) noexcept = default;
Tagger& Tagger::operator=(Tagger&&) noexcept = default;
Tagger::~Tagger() = default;

Tagger Tagger::load(const std::filesystem::path& dir, const Options& options, const TaggerOptions& tagger_options) {
  auto impl = std::make_unique<Impl>(detail::load_text_package(dir, options, "token_cls", "a Tagger"));
  const PackageInfo& p = *impl->model.package();
  // The package's chunking (the pipeline's [task] strict and scheme) unless given.
  impl->chunk_mode = tagger_options.chunk_mode.value_or(!p.strict             ? metrics::ChunkMode::Lenient
                                                        : p.scheme == "bioes" ? metrics::ChunkMode::StrictIobes
                                                                              : metrics::ChunkMode::StrictIob2);
  // Every tag must parse in the chosen mode, or decoding would fail in the middle of a call.
  for (const std::string& tag : p.labels) {
    try {
      metrics::extract_chunks({tag}, impl->chunk_mode);
    } catch (const slimpipe::Error& e) {
      throw Error((dir / "package.json").string() + ": tag '" + tag + "': " + e.what());
    }
  }
  impl->encode_options.truncation = text::Truncation::LongestFirst;
  impl->encode_options.max_length = static_cast<std::size_t>(p.max_seq_length);
  return Tagger(std::move(impl));
}

std::vector<Tagging> Tagger::predict(const std::vector<std::string>& texts, std::int64_t batch_size) {
  detail::check_batch_size(batch_size, "predict");
  std::vector<Prepared> prepared;
  prepared.reserve(texts.size());
  for (const std::string& t : texts) prepared.push_back(impl_->prepare(t));
  std::vector<const text::Encoding*> rows(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) rows[i] = &prepared[i].encoding;
  std::vector<Tagging> out;
  out.reserve(texts.size());
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (std::size_t begin = 0; begin < texts.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t b = std::min(texts.size() - begin, static_cast<std::size_t>(batch_size));
    const Output& o = impl_->batch.run(impl_->model, rows.data() + begin, b, impl_->tokenizer.pad_id());
    for (std::size_t r = 0; r < b; ++r) out.push_back(impl_->decode(texts[begin + r], prepared[begin + r], o, r));
  }
  return out;
}

text::Encoding Tagger::encode(const std::string& t) const { return impl_->encode(t, false); }
const PackageInfo& Tagger::package() const { return *impl_->model.package(); }
const text::WordPieceTokenizer& Tagger::tokenizer() const { return impl_->tokenizer; }
const ModelInfo& Tagger::info() const { return impl_->model.info(); }

}  // namespace slimpipe_runtime
