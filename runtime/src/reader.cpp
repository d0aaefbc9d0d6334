// Reader: qa_windows and QaAnswerDecoder (libslimpipe_text.so, the code the qa task's features and evaluation
// run) around the model. Windows are decoded in the order featurize_qa lists them, so equal scores resolve alike.
#include "slimpipe_runtime/reader.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "slimpipe/error.hpp"
#include "text_package.hpp"

namespace slimpipe_runtime {

namespace text = slimpipe::text;
namespace tasks = slimpipe::tasks;

namespace {

// log Σ exp(logits[t]) over the context tokens of a window.
double log_sum_exp(const float* logits, std::int32_t begin, std::int32_t end) {
  if (begin >= end) return 0;
  const float top = *std::max_element(logits + begin, logits + end);
  double sum = 0;
  for (std::int32_t t = begin; t < end; ++t) sum += std::exp(static_cast<double>(logits[t] - top));
  return static_cast<double>(top) + std::log(sum);
}

}  // namespace

struct Reader::Impl {
  Model model;
  text::WordPieceTokenizer tokenizer;
  tasks::QaFeatureOptions features;
  tasks::QaDecodeOptions decoding;
  std::mutex mutex;  // Model::run is not thread-safe
  detail::PaddedBatch batch;

  explicit Impl(detail::TextPackage p) : model(std::move(p.model)), tokenizer(std::move(p.tokenizer)) {}

  std::vector<tasks::QaWindow> windows(const std::string& question, const std::string& context) const {
    try {
      return tasks::qa_windows(tokenizer, question, context, features);
    } catch (const slimpipe::Error& e) {
      throw Error(std::string("answer: ") + e.what());
    }
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

Reader Reader::load(const std::filesystem::path& dir, const Options& options, const ReaderOptions& reader_options) {
  auto impl = std::make_unique<Impl>(detail::load_text_package(dir, options, "qa", "a Reader"));
  const PackageInfo& p = *impl->model.package();
  // The package's decoding options (the pipeline's [task]) unless given.
  const std::size_t n_best = reader_options.n_best_size.value_or(static_cast<std::size_t>(p.n_best_size));
  const std::size_t max_answer =
      reader_options.max_answer_length.value_or(static_cast<std::size_t>(p.max_answer_length));
  if (n_best < 1 || max_answer < 1)
    throw Error("Reader: n_best_size and max_answer_length must be >= 1, got " + std::to_string(n_best) + " and " +
                std::to_string(max_answer));
  impl->features.max_seq_length = static_cast<std::size_t>(p.max_seq_length);
  impl->features.doc_stride = static_cast<std::size_t>(p.doc_stride);
  impl->features.max_query_length = static_cast<std::size_t>(p.max_query_length);
  try {
    tasks::check_qa_feature_options(impl->features);
  } catch (const slimpipe::Error& e) {
    throw Error((dir / "package.json").string() + ": " + e.what());
  }
  impl->decoding.n_best_size = n_best;
  impl->decoding.max_answer_length = max_answer;
  return Reader(std::move(impl));
}

Answer Reader::answer(const std::string& question, const std::string& context) {
  return answer(std::vector<QaInput>{{question, context}}, 1).front();
}

std::vector<Answer> Reader::answer(const std::vector<QaInput>& inputs, std::int64_t batch_size) {
  detail::check_batch_size(batch_size, "answer");
  std::vector<std::vector<tasks::QaWindow>> windows;
  windows.reserve(inputs.size());
  for (const QaInput& in : inputs) windows.push_back(impl_->windows(in.question, in.context));
  // Every window of every input, in order: (input, window) and its row.
  struct Row {
    std::size_t input, window;
  };
  std::vector<Row> order;
  std::vector<const text::Encoding*> rows;
  for (std::size_t i = 0; i < windows.size(); ++i)
    for (std::size_t w = 0; w < windows[i].size(); ++w) {
      order.push_back({i, w});
      rows.push_back(&windows[i][w].encoding);
    }
  std::vector<tasks::QaAnswerDecoder> decoders(inputs.size(), tasks::QaAnswerDecoder(impl_->decoding));
  std::vector<double> log_norm(order.size());  // per window: log Σexp(start) + log Σexp(end) over its context
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    for (std::size_t begin = 0; begin < rows.size(); begin += static_cast<std::size_t>(batch_size)) {
      const std::size_t b = std::min(rows.size() - begin, static_cast<std::size_t>(batch_size));
      const Output& o = impl_->batch.run(impl_->model, rows.data() + begin, b, impl_->tokenizer.pad_id());
      for (std::size_t r = 0; r < b; ++r) {
        const Row& row = order[begin + r];
        const tasks::QaWindow& w = windows[row.input][row.window];
        const float* start = o.start_logits + r * static_cast<std::size_t>(o.seq);
        const float* end = o.end_logits + r * static_cast<std::size_t>(o.seq);
        decoders[row.input].add_window(w, static_cast<std::int64_t>(row.window), start, end);
        log_norm[begin + r] =
            log_sum_exp(start, w.context_begin, w.context_end) + log_sum_exp(end, w.context_begin, w.context_end);
      }
    }
  }
  std::vector<Answer> out(inputs.size());
  std::size_t first_row = 0;  // the row of window 0 of input i
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const tasks::QaSpan span = decoders[i].best(inputs[i].context);
    Answer& a = out[i];
    if (span.found()) {
      const text::Encoding& e = windows[i][static_cast<std::size_t>(span.feature)].encoding;
      a.text = span.text;
      a.byte_start = span.byte_begin;
      a.byte_end = span.byte_end;
      a.start = e.offsets[static_cast<std::size_t>(span.start_token)].begin;
      a.end = e.offsets[static_cast<std::size_t>(span.end_token)].end;
      a.logit_score = span.score;
      a.score = static_cast<float>(std::exp(span.score - log_norm[first_row + static_cast<std::size_t>(span.feature)]));
      a.window = span.feature;
    }
    first_row += windows[i].size();
  }
  return out;
}

std::vector<tasks::QaWindow> Reader::windows(const std::string& question, const std::string& context) const {
  return impl_->windows(question, context);
}
const PackageInfo& Reader::package() const { return *impl_->model.package(); }
const text::WordPieceTokenizer& Reader::tokenizer() const { return impl_->tokenizer; }
const ModelInfo& Reader::info() const { return impl_->model.info(); }

}  // namespace slimpipe_runtime
