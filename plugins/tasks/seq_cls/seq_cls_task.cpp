// The seq_cls task plugin: single sentences or pairs from TSV/CSV/JSON lines/CLUE files or the
// synthetic sentiment source, a SequenceClassification head, cross-entropy and accuracy.
#include <ATen/ATen.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/metrics/accuracy.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/collation.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"
#include "slimpipe/tasks/example_scores.hpp"
#include "slimpipe/tasks/feature_cache.hpp"
#include "slimpipe/tasks/losses.hpp"
#include "slimpipe/tasks/seq_cls_features.hpp"
#include "slimpipe/tasks/task_support.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
using tasks::DataSplit;

constexpr const char* kTask = "seq_cls";

class SeqClsFeatureSet final : public FeatureSet {
 public:
  SeqClsFeatureSet(tasks::SeqClsFeatures features, std::int32_t pad_id)
      : features_(std::move(features)), pad_id_(pad_id) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(features_.features.size()); }

  Batch collate(const std::vector<std::int64_t>& indices) const override {
    Batch b;
    b.inputs = tasks::collate_inputs(features_.features, indices, pad_id_);
    b.targets["labels"] = tasks::collate_values(features_.labels, indices);
    b.features = indices;
    return b;
  }

 private:
  tasks::SeqClsFeatures features_;
  std::int32_t pad_id_;
};

class SeqClsTask final : public Task, public tasks::ExampleScoring, public tasks::SplitInfo {
 public:
  using Interface = Task;

  void configure(const Params& p) override {
    source_ = tasks::DataSource::from_params(p, kTask);
    if (source_.synthetic) {
      if (!p.get_string_list("labels").empty()) {
        throw UsageError(
            "[task] seq_cls: labels are fixed by the synthetic source (negative, neutral, positive); remove labels");
      }
      train_ = data::synthetic_seq_cls(source_.size(DataSplit::Train), source_.seed(DataSplit::Train));
      eval_ = data::synthetic_seq_cls(source_.size(DataSplit::Eval), source_.seed(DataSplit::Eval));
      if (source_.has_test())
        test_.set(std::make_shared<const data::SeqClsDataset>(
            data::synthetic_seq_cls(source_.size(DataSplit::Test), source_.seed(DataSplit::Test))));
      labels_ = train_.labels.names();
      return;
    }
    data::SeqClsReadOptions options = read_options(p);
    // The train file fixes the label ids (or discovers them); the eval file must use the same.
    if (!source_.train.empty()) {
      train_ = data::read_seq_cls(source_.train, options);
      options.labels = train_.labels.names();
    }
    if (!source_.eval.empty()) eval_ = data::read_seq_cls(source_.eval, options);
    labels_ = source_.train.empty() ? eval_.labels.names() : train_.labels.names();
    if (labels_.size() < 2) {
      throw Error("[task] seq_cls: " + (source_.train.empty() ? source_.eval : source_.train) + " has " +
                  std::to_string(labels_.size()) + " label(s); classification needs at least 2 (set labels = [...])");
    }
    // The test file (read on first use) must use the same label ids.
    options.labels = labels_;
    test_options_ = options;
    if (source_.carves_eval()) carve(DataSplit::Eval);
    if (source_.carves()) carve(DataSplit::Test);
  }

  HeadSpec head() const override {
    return {nn::TaskHead::SequenceClassification, static_cast<std::int64_t>(labels_.size()), labels_};
  }

  std::vector<std::string> vocabulary() const override {
    return source_.synthetic ? data::synthetic_vocabulary() : std::vector<std::string>{};
  }

  std::shared_ptr<const FeatureSet> features(const std::string& split, const text::WordPieceTokenizer& tokenizer,
                                             std::int64_t max_seq_length) override {
    const DataSplit which = tasks::parse_split(split, kTask);
    if (!source_.synthetic || which == DataSplit::Test) source_.file(which, kTask);  // names the missing parameter
    std::shared_ptr<const data::SeqClsDataset> test;
    if (which == DataSplit::Test) test = test_.get([&] { return data::read_seq_cls(source_.test, test_options_); });
    const data::SeqClsDataset& dataset = which == DataSplit::Train ? train_ : which == DataSplit::Eval ? eval_ : *test;
    const std::int64_t length = source_.sequence_length(max_seq_length);
    return cache_.get(tasks::to_string(which), tokenizer, length, [&] {
      return std::make_shared<SeqClsFeatureSet>(
          tasks::featurize_seq_cls(dataset, tokenizer, static_cast<std::size_t>(length)), tokenizer.pad_id());
    });
  }

  bool has_split(DataSplit split) const override { return source_.has(split); }

  Json split_info(DataSplit split) const override {
    return tasks::describe_split(source_, split, "label", train_, eval_, test_);
  }

  at::Tensor loss(const nn::EncoderOutput& output, const Batch& batch) const override {
    return tasks::sequence_classification_loss(output.logits, tasks::batch_target(batch, "labels", kTask));
  }

  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                   const nn::SiteHook& hook) const override {
    return evaluate_examples(model, data, batch_size, hook).metrics;
  }

  // Per example: {correct}; the prediction is the label id.
  tasks::ExampleEvaluation evaluate_examples(nn::TaskModelImpl& model, const FeatureSet& data, std::int64_t batch_size,
                                             const nn::SiteHook& hook) const override {
    metrics::Accuracy accuracy;
    double loss_sum = 0;
    tasks::ExampleEvaluation e;
    e.stats.width = 1;
    e.stats.metric = metrics::mean_percent();
    tasks::run_evaluation(model, data, batch_size, hook, [&](const Batch& batch, const nn::EncoderOutput& out) {
      const at::Tensor logits = out.logits.to(at::kCPU).to(at::kFloat);
      const at::Tensor labels = tasks::batch_target(batch, "labels", kTask);
      loss_sum +=
          tasks::sequence_classification_loss(logits, labels).item<double>() * static_cast<double>(batch.size());
      const at::Tensor predicted = logits.argmax(-1).contiguous();
      const auto* p = predicted.data_ptr<std::int64_t>();
      const auto* l = labels.data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < batch.size(); ++i) {
        accuracy.add(p[i], l[i]);
        e.stats.values.push_back(p[i] == l[i] ? 1.0 : 0.0);
        e.predictions.push_back(std::to_string(p[i]));
      }
      tasks::append_outputs(batch, out, e.outputs);
    });
    Metrics& m = e.metrics;
    m.primary = "accuracy";
    m.value = 100.0 * accuracy.value();
    m.all = {{"accuracy", m.value},
             {"loss", accuracy.total() ? loss_sum / static_cast<double>(accuracy.total()) : 0.0},
             {"examples", accuracy.total()}};
    return e;
  }

 private:
  // eval_from, test_from: a seeded draw stratified by label, moved out of the split it came from.
  void carve(DataSplit target) {
    data::SeqClsDataset& from = source_.carved_from(target) == DataSplit::Train ? train_ : eval_;
    std::vector<std::size_t> units(from.examples.size());
    std::vector<std::int64_t> strata(from.examples.size());
    for (std::size_t i = 0; i < units.size(); ++i) {
      units[i] = i;
      strata[i] = from.examples[i].label;
    }
    data::SeqClsDataset carved = tasks::carve_dataset(source_, target, from, units, strata, kTask, "examples");
    carved.labels = from.labels;
    if (target == DataSplit::Eval)
      eval_ = std::move(carved);
    else
      test_.set(std::make_shared<const data::SeqClsDataset>(std::move(carved)));
  }

  static data::SeqClsReadOptions read_options(const Params& p) {
    data::SeqClsReadOptions o;
    o.format = data::seq_cls_format_from_string(p.get_string("format"));
    o.header = p.get_bool("header");
    o.text_a_field = p.get_string("text_a_field");
    o.text_b_field = p.get_string("text_b_field");
    o.label_field = p.get_string("label_field");
    o.text_a_column = static_cast<int>(p.get_int("text_a_column"));
    o.text_b_column = static_cast<int>(p.get_int("text_b_column"));
    o.label_column = static_cast<int>(p.get_int("label_column"));
    o.labels = p.get_string_list("labels");
    return o;
  }

  tasks::DataSource source_;
  data::SeqClsDataset train_, eval_;
  tasks::HeldOutSplit<data::SeqClsDataset> test_;
  data::SeqClsReadOptions test_options_;
  std::vector<std::string> labels_;
  tasks::FeatureCache cache_;
};

Schema schema() {
  Schema s;
  tasks::add_data_source_params(s, 128);
  return s
      .param("format", ParamType::String, "auto", "file format; auto: by extension",
             {"auto", "tsv", "csv", "jsonl", "clue"})
      .param("header", ParamType::Bool, true, "TSV/CSV: the first row names the columns")
      .param("text_a_field", ParamType::String, "",
             "column/field of the first text; empty: text, sentence, sentence1, text_a or query")
      .param("text_b_field", ParamType::String, "", "column/field of the second text; empty: text_b or sentence2")
      .param("label_field", ParamType::String, "", "column/field of the label; empty: label")
      .param("text_a_column", ParamType::Int, 0, "header = false: 0-based column of the first text")
      .param("text_b_column", ParamType::Int, -1, "header = false: column of the second text; -1: single sentences")
      .param("label_column", ParamType::Int, 1, "header = false: column of the label")
      .param("labels", ParamType::StringList, Json::array(),
             "label names in id order; empty: discovered in the train file in order of appearance");
}

}  // namespace

SLIMPIPE_PLUGIN(SeqClsTask, "seq_cls", "1.0.0",
                "sentence / sentence-pair classification: TSV, CSV, JSON lines, CLUE or synthetic; accuracy", schema)
