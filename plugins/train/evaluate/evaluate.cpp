// evaluate strategy: scores an HF model folder on the pipeline task's eval (dev) split, or with
// split = "test" on its held-out test split, and records the metrics (metrics.json and the manifest,
// test figures as test_<name>); the model itself is not copied.
#include <ATen/Parallel.h>

#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/tasks/input_model.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

class Evaluate final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    const fs::path dir = inputs.size() == 1 ? inputs[0].dir() : fs::path();
    Task& task = ctx.task();
    io::LoadedModel loaded = tasks::load_input_model(inputs, task, ctx.device(), "evaluate");
    const auto tokenizer = text::WordPieceTokenizer::from_directory(dir);
    // Process-wide in LibTorch; every instance of a run gets the same budget (see docs/training.md).
    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());

    // Test is held out: only this scoring reads it, and the executor keys this instance on the test
    // parameters (tasks::reads_test_split).
    const std::string split = p.get_string("split");
    const auto data = task.features(split, tokenizer, p.get_int("max_seq_length"));
    ctx.progress().begin("evaluate", 1);
    const Metrics m = task.evaluate(*loaded.model, *data, p.get_int("per_device_eval_batch_size"));
    ctx.progress().update(1);
    ctx.progress().end();

    auto& out = ctx.output();
    Json j = {{"split", split},
              {split, m.all},
              {"primary", m.primary},
              {"model", dir.string()},
              {"num_features", data->size()},
              {"num_examples", data->num_examples()}};
    if (const auto* info = dynamic_cast<const tasks::SplitInfo*>(&task))
      j["data"] = info->split_info(tasks::parse_split(split, "evaluate"));
    write_file_atomic(out.dir() / "metrics.json", j.dump(2) + "\n");
    out.set_kind("evaluation");
    // Dev figures under their own names (what the report and rank read as the metric); test figures as
    // test_<name>, so a test score is never taken for a dev one.
    const std::string prefix = split == "test" ? "test_" : "";
    for (const auto& [name, value] : m.all.items())
      if (value.is_number()) out.set_metric(prefix + name, value.get<double>());
    out.manifest()["primary_metric"] = m.primary;
    out.manifest()["split"] = split;
    // The contract the run report reads (slimpipe/model_manifest.hpp): an evaluation, judged by its primary metric.
    ModelManifest mm;
    mm.kind = "evaluation";
    mm.primary_metric = m.primary;
    mm.parameters = {{"split", split}};
    mm.write(out);
    std::string log = split + " on " + std::to_string(data->size()) + " features:";
    for (const auto& [name, value] : m.all.items()) log += " " + name + "=" + value.dump();
    ctx.log().info(log);
  }
};

Schema schema() {
  using T = ParamType;
  return Schema()
      .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("split", T::String, "eval",
             "eval: the dev split every choice is made on; test: the held-out split, to report a final model",
             {"eval", "test"});
}

}  // namespace

SLIMPIPE_PLUGIN(Evaluate, "evaluate", "1.1.0", "score a model on the task's eval (dev) or test split", schema)
