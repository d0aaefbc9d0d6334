// One model folder evaluated example by example (model_evaluation.hpp).
#include "slimpipe/quant/model_evaluation.hpp"

#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::quant {

namespace {

// The folder's model, its split's features and, for a quantized model, its plan's fake-quant hook.
struct Loaded {
  io::LoadedModel model;
  std::shared_ptr<const FeatureSet> data;
  nn::SiteHook hook;
};

Loaded load(const std::filesystem::path& dir, bool quantized, Task& task, const std::string& device,
            std::int64_t max_seq_length, const std::string& split) {
  io::LoadOptions options;
  options.head = task.head().head;
  options.device = device;
  Loaded l{io::load_model(dir, options), nullptr, {}};
  l.data = task.features(split, text::WordPieceTokenizer::from_directory(dir), max_seq_length);
  if (quantized) l.hook = make_fake_quant_hook(load_plan(dir));
  return l;
}

}  // namespace

tasks::ExampleEvaluation evaluate_model_folder(const std::filesystem::path& dir, bool quantized, Task& task,
                                               const tasks::ExampleScoring& scoring, const std::string& device,
                                               std::int64_t max_seq_length, std::int64_t batch,
                                               const std::string& split) {
  Loaded l = load(dir, quantized, task, device, max_seq_length, split);
  return scoring.evaluate_examples(*l.model.model, *l.data, batch, l.hook);
}

Metrics evaluate_model_folder_metrics(const std::filesystem::path& dir, bool quantized, Task& task,
                                      const std::string& device, std::int64_t max_seq_length, std::int64_t batch,
                                      const std::string& split) {
  Loaded l = load(dir, quantized, task, device, max_seq_length, split);
  return task.evaluate(*l.model.model, *l.data, batch, l.hook);
}

}  // namespace slimpipe::quant
