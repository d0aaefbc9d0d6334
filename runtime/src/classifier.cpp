// Classifier: the package's tokenizer (libslimpipe_text.so) in front of the model, softmax behind it.
#include "slimpipe_runtime/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "slimpipe/error.hpp"
#include "text_package.hpp"

namespace slimpipe_runtime {

namespace text = slimpipe::text;

struct Classifier::Impl {
  Model model;
  text::WordPieceTokenizer tokenizer;
  text::EncodeOptions encode_options;
  std::mutex mutex;  // Model::run is not thread-safe
  detail::PaddedBatch batch;

  explicit Impl(detail::TextPackage p) : model(std::move(p.model)), tokenizer(std::move(p.tokenizer)) {}

  std::vector<Prediction> run(const std::vector<text::Encoding>& encodings, std::int64_t batch_size) {
    detail::check_batch_size(batch_size, "predict");
    const PackageInfo& p = *model.package();
    std::vector<const text::Encoding*> rows(encodings.size());
    for (std::size_t i = 0; i < encodings.size(); ++i) rows[i] = &encodings[i];
    std::vector<Prediction> out;
    out.reserve(encodings.size());
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t begin = 0; begin < encodings.size(); begin += static_cast<std::size_t>(batch_size)) {
      const std::size_t b = std::min(encodings.size() - begin, static_cast<std::size_t>(batch_size));
      const Output& o = batch.run(model, rows.data() + begin, b, tokenizer.pad_id());
      const std::size_t n = static_cast<std::size_t>(o.num_labels);
      for (std::size_t r = 0; r < b; ++r) {
        Prediction pred;
        pred.logits.assign(o.logits + r * n, o.logits + (r + 1) * n);
        const float top = *std::max_element(pred.logits.begin(), pred.logits.end());
        double sum = 0;
        pred.scores.resize(n);
        for (std::size_t j = 0; j < n; ++j) sum += pred.scores[j] = std::exp(pred.logits[j] - top);
        for (float& s : pred.scores) s = static_cast<float>(s / sum);
        pred.label_id = std::max_element(pred.logits.begin(), pred.logits.end()) - pred.logits.begin();
        pred.score = pred.scores[static_cast<std::size_t>(pred.label_id)];
        pred.label = p.labels[static_cast<std::size_t>(pred.label_id)];
        out.push_back(std::move(pred));
      }
    }
    return out;
  }

  text::Encoding encode(const std::string& first, const std::string* second) const {
    try {
      return second ? tokenizer.encode_pair(first, *second, encode_options) : tokenizer.encode(first, encode_options);
    } catch (const slimpipe::Error& e) {
      throw Error(std::string("predict: ") + e.what());
    }
  }
};

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;
Classifier::~Classifier() = default;

Classifier Classifier::load(const std::filesystem::path& dir, const Options& options) {
  auto impl = std::make_unique<Impl>(detail::load_text_package(dir, options, "seq_cls", "a Classifier"));
  impl->encode_options.truncation = text::Truncation::LongestFirst;
  impl->encode_options.max_length = static_cast<std::size_t>(impl->model.package()->max_seq_length);
  return Classifier(std::move(impl));
}

std::vector<Prediction> Classifier::predict(const std::vector<std::string>& texts, std::int64_t batch_size) {
  std::vector<text::Encoding> encodings;
  encodings.reserve(texts.size());
  for (const auto& t : texts) encodings.push_back(impl_->encode(t, nullptr));
  return impl_->run(encodings, batch_size);
}

std::vector<Prediction> Classifier::predict_pairs(const std::vector<std::string>& firsts,
                                                  const std::vector<std::string>& seconds, std::int64_t batch_size) {
  if (firsts.size() != seconds.size())
    throw Error("predict_pairs: " + std::to_string(firsts.size()) + " first texts but " +
                std::to_string(seconds.size()) + " second texts");
  std::vector<text::Encoding> encodings;
  encodings.reserve(firsts.size());
  for (std::size_t i = 0; i < firsts.size(); ++i) encodings.push_back(impl_->encode(firsts[i], &seconds[i]));
  return impl_->run(encodings, batch_size);
}

text::Encoding Classifier::encode(const std::string& t) const { return impl_->encode(t, nullptr); }
text::Encoding Classifier::encode_pair(const std::string& a, const std::string& b) const {
  return impl_->encode(a, &b);
}
const PackageInfo& Classifier::package() const { return *impl_->model.package(); }
const text::WordPieceTokenizer& Classifier::tokenizer() const { return impl_->tokenizer; }
const ModelInfo& Classifier::info() const { return impl_->model.info(); }

}  // namespace slimpipe_runtime
