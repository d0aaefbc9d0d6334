// The qa task plugin: SQuAD-layout files (SQuAD v1.1, CMRC2018) or the synthetic facts source,
// doc-stride windows, a QuestionAnswering head, span cross-entropy, n-best decoding, EM and F1.
#include <ATen/ATen.h>

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/metrics/squad.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/collation.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"
#include "slimpipe/tasks/example_scores.hpp"
#include "slimpipe/tasks/feature_cache.hpp"
#include "slimpipe/tasks/losses.hpp"
#include "slimpipe/tasks/qa_decoding.hpp"
#include "slimpipe/tasks/qa_features.hpp"
#include "slimpipe/tasks/task_support.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
using tasks::DataSplit;

constexpr const char* kTask = "qa";

// The language most examples of `dataset` are in, by their contexts.
metrics::QaLanguage majority_language(const data::QaDataset& dataset) {
  std::size_t zh = 0;
  for (const data::QaExample& ex : dataset.examples)
    zh += metrics::detect_qa_language(ex.context) == metrics::QaLanguage::Zh;
  return 2 * zh > dataset.examples.size() ? metrics::QaLanguage::Zh : metrics::QaLanguage::En;
}

// Windows of one split plus what decoding needs: the examples (for contexts and gold answers)
// and each window's offsets. Keeps the dataset alive on its own, since hosts may keep feature
// sets longer than the task object.
class QaFeatureSet final : public FeatureSet {
 public:
  QaFeatureSet(std::shared_ptr<const data::QaDataset> dataset, std::vector<tasks::QaFeature> windows,
               std::int32_t pad_id)
      : dataset_(std::move(dataset)),
        windows_(std::move(windows)),
        pad_id_(pad_id),
        language_(majority_language(*dataset_)) {
    encoded_.reserve(windows_.size());
    for (tasks::QaFeature& w : windows_) {
      encoded_.push_back(std::move(w.encoded));
      w.encoded = {};
      starts_.push_back(w.start_position);
      ends_.push_back(w.end_position);
    }
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(windows_.size()); }
  std::int64_t num_examples() const override { return static_cast<std::int64_t>(dataset_->examples.size()); }

  Batch collate(const std::vector<std::int64_t>& indices) const override {
    Batch b;
    b.inputs = tasks::collate_inputs(encoded_, indices, pad_id_);
    b.targets["start_positions"] = tasks::collate_values(starts_, indices);
    b.targets["end_positions"] = tasks::collate_values(ends_, indices);
    b.features = indices;
    return b;
  }

  const data::QaDataset& dataset() const { return *dataset_; }
  const tasks::QaFeature& window(std::int64_t i) const { return windows_[static_cast<std::size_t>(i)]; }
  metrics::QaLanguage language() const { return language_; }

 private:
  std::shared_ptr<const data::QaDataset> dataset_;
  std::vector<tasks::QaFeature> windows_;  // without their ids, which live in encoded_
  std::vector<tasks::EncodedFeature> encoded_;
  std::vector<std::int64_t> starts_, ends_;
  std::int32_t pad_id_;
  metrics::QaLanguage language_;
};

class QaTask final : public Task, public tasks::ExampleScoring, public tasks::SplitInfo {
 public:
  using Interface = Task;

  void configure(const Params& p) override {
    source_ = tasks::DataSource::from_params(p, kTask);
    feature_options_.doc_stride = checked_size(p, "doc_stride", 0);
    feature_options_.max_query_length = checked_size(p, "max_query_length", 1);
    decode_options_.n_best_size = checked_size(p, "n_best_size", 1);
    decode_options_.max_answer_length = checked_size(p, "max_answer_length", 1);
    lang_ = p.get_string("lang");
    scoring_ = p.get_string("scoring");
    // Fail at configure, not at the first features() call, when the windows cannot work.
    check_window(source_.max_seq_length);
    if (source_.synthetic) {
      train_ = std::make_shared<data::QaDataset>(
          data::synthetic_qa(source_.size(DataSplit::Train), source_.seed(DataSplit::Train)));
      eval_ = std::make_shared<data::QaDataset>(
          data::synthetic_qa(source_.size(DataSplit::Eval), source_.seed(DataSplit::Eval)));
      if (source_.has_test())
        test_.set(std::make_shared<const data::QaDataset>(
            data::synthetic_qa(source_.size(DataSplit::Test), source_.seed(DataSplit::Test))));
      return;
    }
    if (!source_.train.empty()) train_ = std::make_shared<data::QaDataset>(data::read_qa(source_.train));
    if (!source_.eval.empty()) eval_ = std::make_shared<data::QaDataset>(data::read_qa(source_.eval));
    if (source_.carves_eval()) carve(DataSplit::Eval);
    if (source_.carves()) carve(DataSplit::Test);
  }

  HeadSpec head() const override { return {nn::TaskHead::QuestionAnswering, 2, {}}; }

  std::vector<std::string> vocabulary() const override {
    return source_.synthetic ? data::synthetic_vocabulary() : std::vector<std::string>{};
  }

  std::shared_ptr<const FeatureSet> features(const std::string& split, const text::WordPieceTokenizer& tokenizer,
                                             std::int64_t max_seq_length) override {
    const DataSplit which = tasks::parse_split(split, kTask);
    if (!source_.synthetic || which == DataSplit::Test) source_.file(which, kTask);  // names the missing parameter
    const std::shared_ptr<const data::QaDataset> dataset = which == DataSplit::Train ? train_
                                                           : which == DataSplit::Eval
                                                               ? eval_
                                                               : test_.get([&] { return data::read_qa(source_.test); });
    const std::int64_t length = source_.sequence_length(max_seq_length);
    check_window(length);
    return cache_.get(tasks::to_string(which), tokenizer, length, [&] {
      tasks::QaFeatureOptions options = feature_options_;
      options.max_seq_length = static_cast<std::size_t>(length);
      return std::make_shared<QaFeatureSet>(dataset, tasks::featurize_qa(*dataset, tokenizer, options),
                                            tokenizer.pad_id());
    });
  }

  bool has_split(DataSplit split) const override { return source_.has(split); }

  Json split_info(DataSplit split) const override {
    return tasks::describe_split(source_, split, "article", *train_, *eval_, test_);
  }

  at::Tensor loss(const nn::EncoderOutput& output, const Batch& batch) const override {
    return tasks::span_extraction_loss(output.start_logits, output.end_logits,
                                       tasks::batch_target(batch, "start_positions", kTask),
                                       tasks::batch_target(batch, "end_positions", kTask));
  }

  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                   const nn::SiteHook& hook) const override {
    return evaluate_examples(model, data, batch_size, hook).metrics;
  }

  // Per question: {f1 in [0, 1]} (the primary metric is their mean); the prediction is the answer text.
  tasks::ExampleEvaluation evaluate_examples(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                                             const nn::SiteHook& hook) const override {
    const auto* set = dynamic_cast<const QaFeatureSet*>(&data);
    if (!set) throw Error("qa: evaluate needs features made by the qa task's features()");
    const data::QaDataset& dataset = set->dataset();
    std::vector<tasks::QaAnswerDecoder> decoders(dataset.examples.size(), tasks::QaAnswerDecoder(decode_options_));
    tasks::ExampleEvaluation e;
    e.stats.width = 1;
    e.stats.metric = metrics::mean_percent();
    tasks::run_evaluation(model, data, batch_size, hook, [&](const Batch& batch, const nn::EncoderOutput& out) {
      const at::Tensor start = out.start_logits.to(at::kCPU).to(at::kFloat).contiguous();
      const at::Tensor end = out.end_logits.to(at::kCPU).to(at::kFloat).contiguous();
      const std::int64_t s = start.size(1);
      for (std::int64_t r = 0; r < batch.size(); ++r) {
        const std::int64_t f = batch.features[static_cast<std::size_t>(r)];
        const tasks::QaFeature& w = set->window(f);
        decoders[static_cast<std::size_t>(w.example)].add_window(w, f, start.data_ptr<float>() + r * s,
                                                                 end.data_ptr<float>() + r * s);
      }
      tasks::append_outputs(batch, out, e.outputs);
    });
    metrics::QaScorer scorer(scoring(set->language()));
    std::size_t unanswered = 0;
    std::vector<std::string> golds;
    for (std::size_t i = 0; i < dataset.examples.size(); ++i) {
      const data::QaExample& ex = dataset.examples[i];
      const tasks::QaSpan span = decoders[i].best(ex.context);
      unanswered += !span.found();
      golds.clear();
      for (const data::QaAnswer& a : ex.answers) golds.push_back(a.text);
      e.stats.values.push_back(scorer.add(span.text, golds).f1);
      e.predictions.push_back(span.text);
    }
    Metrics& m = e.metrics;
    m.primary = "f1";
    m.value = scorer.f1();
    m.all = {{"f1", scorer.f1()},
             {"exact_match", scorer.exact()},
             {"examples", scorer.count()},
             {"features", data.size()},
             {"no_span", unanswered}};
    return e;
  }

 private:
  // eval_from, test_from: a seeded draw of whole articles (examples sharing a title or a context), moved
  // out of the split they came from, so no context is in both.
  void carve(DataSplit target) {
    std::shared_ptr<const data::QaDataset>& from = source_.carved_from(target) == DataSplit::Train ? train_ : eval_;
    auto kept = std::make_shared<data::QaDataset>(*from);
    const std::vector<std::size_t> units = article_units(*kept);
    const std::size_t articles = units.empty() ? 0 : *std::max_element(units.begin(), units.end()) + 1;
    auto carved = std::make_shared<data::QaDataset>(
        tasks::carve_dataset(source_, target, *kept, units, std::vector<std::int64_t>(articles, 0), kTask, "articles"));
    from = std::move(kept);
    if (target == DataSplit::Eval)
      eval_ = std::move(carved);
    else
      test_.set(std::move(carved));
  }

  // Dense article ids (in order of first appearance): examples sharing a non-empty title or a context are
  // one article, transitively.
  static std::vector<std::size_t> article_units(const data::QaDataset& dataset) {
    const std::size_t n = dataset.examples.size();
    std::vector<std::size_t> parent(n);
    for (std::size_t i = 0; i < n; ++i) parent[i] = i;
    auto root = [&](std::size_t i) {
      while (parent[i] != i) i = parent[i] = parent[parent[i]];
      return i;
    };
    std::unordered_map<std::string, std::size_t> by_title, by_context;
    for (std::size_t i = 0; i < n; ++i) {
      const data::QaExample& ex = dataset.examples[i];
      for (auto* seen : {ex.title.empty() ? nullptr : &by_title, &by_context}) {
        if (!seen) continue;
        const auto [it, fresh] = seen->emplace(seen == &by_title ? ex.title : ex.context, i);
        if (!fresh) parent[root(i)] = root(it->second);
      }
    }
    std::unordered_map<std::size_t, std::size_t> dense;
    std::vector<std::size_t> units(n);
    for (std::size_t i = 0; i < n; ++i) units[i] = dense.emplace(root(i), dense.size()).first->second;
    return units;
  }

  static std::size_t checked_size(const Params& p, const std::string& name, std::int64_t minimum) {
    const std::int64_t v = p.get_int(name);
    if (v < minimum) {
      throw UsageError("[task] qa: " + name + " must be at least " + std::to_string(minimum) + ", got " +
                       std::to_string(v));
    }
    return static_cast<std::size_t>(v);
  }

  void check_window(std::int64_t max_seq_length) const {
    const auto window = max_seq_length - static_cast<std::int64_t>(feature_options_.max_query_length) - 3;
    if (window <= static_cast<std::int64_t>(feature_options_.doc_stride)) {
      throw UsageError("[task] qa: doc_stride " + std::to_string(feature_options_.doc_stride) +
                       " must be smaller than the context window max_seq_length - max_query_length - 3 = " +
                       std::to_string(max_seq_length) + " - " + std::to_string(feature_options_.max_query_length) +
                       " - 3 = " + std::to_string(window) + "; lower doc_stride or max_query_length");
    }
  }

  metrics::QaScoring scoring(metrics::QaLanguage detected) const {
    if (scoring_ != "auto") return metrics::qa_scoring_from_string(scoring_);
    return metrics::default_scoring(lang_ == "auto" ? detected : metrics::qa_language_from_string(lang_));
  }

  tasks::DataSource source_;
  tasks::QaFeatureOptions feature_options_;
  tasks::QaDecodeOptions decode_options_;
  std::string lang_, scoring_;
  std::shared_ptr<const data::QaDataset> train_ = std::make_shared<data::QaDataset>();
  std::shared_ptr<const data::QaDataset> eval_ = std::make_shared<data::QaDataset>();
  tasks::HeldOutSplit<data::QaDataset> test_;
  tasks::FeatureCache cache_;
};

Schema schema() {
  Schema s;
  // 128 rather than Hugging Face's 384: synthetic contexts are ~60 tokens; set 384 for SQuAD.
  tasks::add_data_source_params(s, 128);
  return s.param("format", ParamType::String, "auto", "file format: SQuAD v1 layout (also CMRC2018)", {"auto", "squad"})
      .param("doc_stride", ParamType::Int, 32,
             "tokens shared by consecutive windows of a long context; must be below max_seq_length - "
             "max_query_length - 3 (Hugging Face uses 128 with max_seq_length 384)")
      .param("max_query_length", ParamType::Int, 64, "questions are cut to this many tokens")
      .param("n_best_size", ParamType::Int, 20, "start and end candidates per window when decoding")
      .param("max_answer_length", ParamType::Int, 30, "longest answer, in tokens, when decoding")
      .param("lang", ParamType::String, "auto", "language of the scoring; auto: detected from the contexts",
             {"auto", "en", "zh"})
      .param("scoring", ParamType::String, "auto",
             "auto: SQuAD v1.1 script for en, CMRC2018 script for zh; paddlenlp: PaddleNLP squad_evaluate",
             {"auto", "squad", "cmrc", "paddlenlp"});
}

}  // namespace

SLIMPIPE_PLUGIN(QaTask, "qa", "1.0.0",
                "extractive question answering: SQuAD v1.1 / CMRC2018 layout or synthetic; doc-stride windows, EM/F1",
                schema)
