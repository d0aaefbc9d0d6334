// evaluate strategy: scores an HF model folder on the pipeline task's eval split and records the
// metrics (metrics.json and the manifest); the model itself is not copied.
#include <ATen/Parallel.h>

#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/input_model.hpp"
#include "slimpipe/task.hpp"
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

    const auto data = task.features("eval", tokenizer, p.get_int("max_seq_length"));
    ctx.progress().begin("evaluate", 1);
    const Metrics m = task.evaluate(*loaded.model, *data, p.get_int("per_device_eval_batch_size"));
    ctx.progress().update(1);
    ctx.progress().end();

    auto& out = ctx.output();
    Json j = {{"eval", m.all}, {"primary", m.primary}, {"model", dir.string()}, {"num_features", data->size()},
              {"num_examples", data->num_examples()}};
    write_file_atomic(out.dir() / "metrics.json", j.dump(2) + "\n");
    out.set_kind("evaluation");
    for (const auto& [name, value] : m.all.items())
      if (value.is_number()) out.set_metric(name, value.get<double>());
    out.manifest()["primary_metric"] = m.primary;
    std::string log = "eval on " + std::to_string(data->size()) + " features:";
    for (const auto& [name, value] : m.all.items()) log += " " + name + "=" + value.dump();
    ctx.log().info(log);
  }
};

Schema schema() {
  using T = ParamType;
  return Schema()
      .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length");
}

}  // namespace

SLIMPIPE_PLUGIN(Evaluate, "strategy", "evaluate", "1.0.0", "score a model on the task's eval split", schema)
