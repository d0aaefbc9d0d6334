// The token_cls task plugin: tagged words from CoNLL or JSON-lines files or the synthetic NER
// source, a TokenClassification head, cross-entropy over first sub-words, entity-level F1.
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/data/synthetic_token_cls.hpp"
#include "slimpipe/data/token_cls_reader.hpp"
#include "slimpipe/metrics/chunk.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/collation.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"
#include "slimpipe/tasks/example_scores.hpp"
#include "slimpipe/tasks/feature_cache.hpp"
#include "slimpipe/tasks/losses.hpp"
#include "slimpipe/tasks/task_support.hpp"
#include "slimpipe/tasks/token_cls_features.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
using tasks::DataSplit;

constexpr const char* kTask = "token_cls";

class TokenClsFeatureSet final : public FeatureSet {
 public:
  TokenClsFeatureSet(std::vector<tasks::TokenClsFeature> features, std::int32_t pad_id) : pad_id_(pad_id) {
    encoded_.reserve(features.size());
    labels_.reserve(features.size());
    for (tasks::TokenClsFeature& f : features) {
      encoded_.push_back(std::move(f.encoded));
      labels_.push_back(std::move(f.labels));
    }
  }

  std::int64_t size() const override { return static_cast<std::int64_t>(encoded_.size()); }

  Batch collate(const std::vector<std::int64_t>& indices) const override {
    Batch b;
    b.inputs = tasks::collate_inputs(encoded_, indices, pad_id_);
    b.targets["labels"] = tasks::collate_token_labels(labels_, indices, b.inputs.input_ids.size(1));
    b.features = indices;
    return b;
  }

 private:
  std::vector<tasks::EncodedFeature> encoded_;
  std::vector<std::vector<std::int64_t>> labels_;  // per token, -100 but at each word's first sub-word
  std::int32_t pad_id_;
};

class TokenClsTask final : public Task, public tasks::ExampleScoring, public tasks::SplitInfo {
 public:
  using Interface = Task;

  void configure(const Params& p) override {
    source_ = tasks::DataSource::from_params(p, kTask);
    const std::string scheme = p.get_string("scheme");
    mode_ = !p.get_bool("strict") ? metrics::ChunkMode::Lenient
            : scheme == "bioes"   ? metrics::ChunkMode::StrictIobes
                                  : metrics::ChunkMode::StrictIob2;
    if (source_.synthetic) {
      if (!p.get_string_list("labels").empty()) {
        throw UsageError(
            "[task] token_cls: tags are fixed by the synthetic source (O, B-PER, ... I-MISC); remove labels");
      }
      const data::SyntheticTokenClsOptions options = synthetic_options(p);
      train_ = data::synthetic_token_cls(source_.size(DataSplit::Train), source_.seed(DataSplit::Train), options);
      eval_ = data::synthetic_token_cls(source_.size(DataSplit::Eval), source_.seed(DataSplit::Eval), options);
      if (source_.has_test())
        test_.set(std::make_shared<const data::TokenClsDataset>(
            data::synthetic_token_cls(source_.size(DataSplit::Test), source_.seed(DataSplit::Test), options)));
      labels_ = train_.labels.names();
    } else {
      data::TokenClsReadOptions options = read_options(p);
      // The train file fixes the tag ids (or discovers them); the eval file must use the same.
      if (!source_.train.empty()) {
        train_ = data::read_token_cls(source_.train, options);
        options.labels = train_.labels.names();
      }
      if (!source_.eval.empty()) eval_ = data::read_token_cls(source_.eval, options);
      labels_ = source_.train.empty() ? eval_.labels.names() : train_.labels.names();
      // The test file (read on first use) must use the same tag ids.
      options.labels = labels_;
      test_options_ = options;
    }
    check_scheme(scheme);
    if (source_.carves_eval()) carve(DataSplit::Eval);
    if (source_.carves()) carve(DataSplit::Test);
  }

  HeadSpec head() const override {
    return {nn::TaskHead::TokenClassification, static_cast<std::int64_t>(labels_.size()), labels_};
  }

  std::vector<std::string> vocabulary() const override {
    return source_.synthetic ? data::synthetic_vocabulary() : std::vector<std::string>{};
  }

  std::shared_ptr<const FeatureSet> features(const std::string& split, const text::WordPieceTokenizer& tokenizer,
                                             std::int64_t max_seq_length) override {
    const DataSplit which = tasks::parse_split(split, kTask);
    if (!source_.synthetic || which == DataSplit::Test) source_.file(which, kTask);  // names the missing parameter
    std::shared_ptr<const data::TokenClsDataset> test;
    if (which == DataSplit::Test) test = test_.get([&] { return data::read_token_cls(source_.test, test_options_); });
    const data::TokenClsDataset& dataset = which == DataSplit::Train  ? train_
                                           : which == DataSplit::Eval ? eval_
                                                                      : *test;
    const std::int64_t length = source_.sequence_length(max_seq_length);
    return cache_.get(tasks::to_string(which), tokenizer, length, [&] {
      return std::make_shared<TokenClsFeatureSet>(
          tasks::featurize_token_cls(dataset, tokenizer, static_cast<std::size_t>(length)), tokenizer.pad_id());
    });
  }

  bool has_split(DataSplit split) const override { return source_.has(split); }

  Json split_info(DataSplit split) const override {
    return tasks::describe_split(source_, split, "sentence", train_, eval_, test_);
  }

  at::Tensor loss(const nn::EncoderOutput& output, const Batch& batch) const override {
    return tasks::token_classification_loss(output.logits, tasks::batch_target(batch, "labels", kTask));
  }

  // Entity-level F1 over the words present in the features: the prediction of a word is the
  // argmax at its first sub-word, as Hugging Face run_ner reads it (words cut off by
  // max_seq_length are left out of gold and prediction alike).
  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                   const nn::SiteHook& hook) const override {
    return evaluate_examples(model, data, batch_size, hook).metrics;
  }

  // Per sentence: {predicted, gold, correct} entities, so a resample's micro F1 is recomputed from its sums;
  // the prediction is the sentence's predicted tag ids.
  tasks::ExampleEvaluation evaluate_examples(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                                             const nn::SiteHook& hook) const override {
    metrics::ChunkF1 f1(mode_);
    std::size_t sentences = 0;
    std::vector<std::int64_t> gold, predicted;
    tasks::ExampleEvaluation e;
    e.stats.width = 3;
    e.stats.metric = metrics::f1_percent_from_counts();
    tasks::run_evaluation(model, data, batch_size, hook, [&](const Batch& batch, const nn::EncoderOutput& out) {
      const at::Tensor best = out.logits.to(at::kCPU).argmax(-1).contiguous();
      const at::Tensor labels = tasks::batch_target(batch, "labels", kTask).contiguous();
      const std::int64_t s = labels.size(1);
      const auto* p = best.data_ptr<std::int64_t>();
      const auto* l = labels.data_ptr<std::int64_t>();
      for (std::int64_t r = 0; r < batch.size(); ++r) {
        gold.clear();
        predicted.clear();
        std::string tags;
        for (std::int64_t t = r * s; t < (r + 1) * s; ++t) {
          if (l[t] == tasks::kIgnoreIndex) continue;
          gold.push_back(l[t]);
          predicted.push_back(p[t]);
          tags += std::to_string(p[t]) + " ";
        }
        const metrics::ChunkScore before = f1.micro();
        f1.add(gold, predicted, labels_);
        const metrics::ChunkScore& after = f1.micro();
        e.stats.values.push_back(static_cast<double>(after.predicted - before.predicted));
        e.stats.values.push_back(static_cast<double>(after.gold - before.gold));
        e.stats.values.push_back(static_cast<double>(after.correct - before.correct));
        e.predictions.push_back(std::move(tags));
        ++sentences;
      }
      tasks::append_outputs(batch, out, e.outputs);
    });
    const metrics::ChunkScore& micro = f1.micro();
    Metrics& m = e.metrics;
    m.primary = "f1";
    m.value = 100.0 * micro.f1();
    m.all = {{"f1", m.value},
             {"precision", 100.0 * micro.precision()},
             {"recall", 100.0 * micro.recall()},
             {"sentences", sentences},
             {"gold_entities", micro.gold},
             {"predicted_entities", micro.predicted}};
    return e;
  }

 private:
  // eval_from, test_from: a seeded draw of whole sentences, moved out of the split they came from.
  void carve(DataSplit target) {
    data::TokenClsDataset& from = source_.carved_from(target) == DataSplit::Train ? train_ : eval_;
    std::vector<std::size_t> units(from.examples.size());
    for (std::size_t i = 0; i < units.size(); ++i) units[i] = i;
    data::TokenClsDataset carved = tasks::carve_dataset(source_, target, from, units,
                                                        std::vector<std::int64_t>(units.size(), 0), kTask, "sentences");
    carved.labels = from.labels;
    if (target == DataSplit::Eval)
      eval_ = std::move(carved);
    else
      test_.set(std::make_shared<const data::TokenClsDataset>(std::move(carved)));
  }

  static data::SyntheticTokenClsOptions synthetic_options(const Params& p) {
    data::SyntheticTokenClsOptions o;
    o.context_rate = p.get_float("synthetic_context_rate");
    if (!(o.context_rate >= 0.0 && o.context_rate <= 1.0))
      throw UsageError("[task] token_cls: synthetic_context_rate must be in [0, 1], got " +
                       p.raw("synthetic_context_rate").dump());
    const std::int64_t gap = p.get_int("synthetic_context_gap");
    if (gap < 0 || gap > data::SyntheticTokenClsOptions::kMaxContextGap)
      throw UsageError("[task] token_cls: synthetic_context_gap must be in [0, " +
                       std::to_string(data::SyntheticTokenClsOptions::kMaxContextGap) + "], got " +
                       std::to_string(gap));
    o.context_gap = static_cast<int>(gap);
    return o;
  }

  static data::TokenClsReadOptions read_options(const Params& p) {
    data::TokenClsReadOptions o;
    o.format = data::token_cls_format_from_string(p.get_string("format"));
    o.word_column = static_cast<int>(p.get_int("word_column"));
    o.tag_column = static_cast<int>(p.get_int("tag_column"));
    o.tokens_field = p.get_string("tokens_field");
    o.tags_field = p.get_string("tags_field");
    o.labels = p.get_string_list("labels");
    return o;
  }

  // With strict = true every tag must belong to the scheme, or scoring would fail mid-run.
  void check_scheme(const std::string& scheme) const {
    if (labels_.empty()) throw Error("[task] token_cls: no tags found in the data");
    if (mode_ == metrics::ChunkMode::Lenient) return;
    for (const std::string& tag : labels_) {
      try {
        metrics::extract_chunks({tag}, mode_);
      } catch (const Error& e) {
        throw Error("[task] token_cls: tag '" + tag + "' does not fit scheme = \"" + scheme +
                    "\" with strict = true (" + e.what() + ")");
      }
    }
  }

  tasks::DataSource source_;
  metrics::ChunkMode mode_ = metrics::ChunkMode::Lenient;
  data::TokenClsDataset train_, eval_;
  tasks::HeldOutSplit<data::TokenClsDataset> test_;
  data::TokenClsReadOptions test_options_;
  std::vector<std::string> labels_;
  tasks::FeatureCache cache_;
};

Schema schema() {
  Schema s;
  tasks::add_data_source_params(s, 128);
  return s
      .param("synthetic_context_rate", ParamType::Float, data::SyntheticTokenClsOptions{}.context_rate,
             "synthetic source: fraction of PER/LOC/ORG/fruit slots filled with an ambiguous word (jordan, apple, "
             "...) whose tag only the surrounding words decide; in [0, 1]. Higher makes the task lean on attention "
             "rather than word identity")
      .param("synthetic_context_gap", ParamType::Int, data::SyntheticTokenClsOptions{}.context_gap,
             "synthetic source: up to this many filler words (very, old, ...) before each slot but a sentence's "
             "first, so the deciding word can be further away; 0 to 8")
      .param("format", ParamType::String, "auto", "file format; auto: jsonl for .jsonl/.json, else conll",
             {"auto", "conll", "jsonl"})
      .param("word_column", ParamType::Int, 0, "CoNLL: 0-based column of the word")
      .param("tag_column", ParamType::Int, -1, "CoNLL: column of the tag; negative counts from the end")
      .param("tokens_field", ParamType::String, "tokens", "JSON lines: field holding the words")
      .param("tags_field", ParamType::String, "", "JSON lines: field holding the tags; empty: labels, then ner_tags")
      .param("labels", ParamType::StringList, Json::array(),
             "tag names in id order; empty: discovered in the train file in order of appearance")
      .param("scheme", ParamType::String, "bio", "tagging scheme, checked when strict = true", {"bio", "bioes"})
      .param("strict", ParamType::Bool, false,
             "false: seqeval's default chunking (what PaddleNLP's ChunkEvaluator reports); true: seqeval "
             "mode='strict' with the scheme");
}

}  // namespace

SLIMPIPE_PLUGIN(TokenClsTask, "token_cls", "1.0.0",
                "token classification (NER): CoNLL, JSON lines or synthetic; entity-level F1", schema)
