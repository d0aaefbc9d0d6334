// finetune strategy: trains its input model (or a fresh encoder) on the pipeline's task with the shared
// TrainingArguments, and writes the best state as an HF model folder with metrics.json and, by default, a
// runtime package (runtime/, docs/runtime.md) like the ptq cells and dynabert widths.
#include <torch/types.h>

#include <filesystem>

#include "model_source.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/train/trainer.hpp"

namespace {

using namespace slimpipe;

std::int64_t parameter_count(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// A fresh encoder of the size the params give (seeded with the training seed), or the one input model.
finetune::StartingModel starting_model(const std::vector<Artifact>& inputs, const Params& p, Task& task,
                                       const HeadSpec& head, std::int64_t seed) {
  if (!p.get_bool("from_scratch")) {
    if (inputs.size() != 1)
      throw Error("finetune: expected one input model artifact, got " + std::to_string(inputs.size()));
    return finetune::load_pretrained(inputs[0].dir(), head);
  }
  finetune::EncoderSize size;
  size.hidden_size = p.get_int("hidden_size");
  size.num_hidden_layers = p.get_int("num_hidden_layers");
  size.num_attention_heads = p.get_int("num_attention_heads");
  size.intermediate_size = p.get_int("intermediate_size");
  size.max_position_embeddings = p.get_int("max_position_embeddings");
  for (const char* key : {"hidden_dropout_prob", "attention_probs_dropout_prob"}) {
    const double v = p.get_float(key);
    if (!(v >= 0.0 && v < 1.0))
      throw Error(std::string("finetune: ") + key + " must be in [0, 1), got " + p.raw(key).dump());
  }
  size.hidden_dropout_prob = p.get_float("hidden_dropout_prob");
  size.attention_probs_dropout_prob = p.get_float("attention_probs_dropout_prob");
  // Seeded here as well as in Trainer::train(): the initial weights depend on the seed too.
  torch::manual_seed(static_cast<std::uint64_t>(seed));
  return finetune::create_from_scratch(size, p.get_string("vocab"), task, head);
}

// An fp32 package of the saved model, its tokenizer found beside it; the sequence length it was trained and
// evaluated with (this node's max_seq_length, else the [task]'s), the [task]'s decoding options. A model the
// runtime cannot run keeps its other outputs, with a warning (as a ptq cell does).
void export_runtime_package(Context& ctx, nn::TaskModel& model, const std::filesystem::path& dir,
                            std::int64_t max_seq_length) {
  exporter::PackageSettings package;
  if (max_seq_length > 0) package.max_seq_length = max_seq_length;
  try {
    exporter::export_runtime(*model, dir / "runtime", package);
  } catch (const Error& e) {
    std::error_code ec;
    std::filesystem::remove_all(dir / "runtime", ec);
    ctx.log().warn(std::string("finetune: no runtime export: ") + e.what());
  }
}

// The artifact's kind, metrics and manifest fields, and the ModelManifest block.
void record_result(OutputArtifact& out, const train::TrainingResult& result, std::int64_t param_count) {
  out.set_kind("model");
  if (result.best)
    for (const auto& [name, value] : result.best->all.items())
      if (value.is_number()) out.set_metric(name, value.get<double>());
  out.set_metric("train_loss", result.train_loss);
  if (result.best) out.manifest()["primary_metric"] = result.best->primary;
  out.manifest()["param_count"] = param_count;
  out.manifest()["load"] = "HF folder: config.json + model.safetensors";
  out.manifest()["training"] = {
      {"steps", result.steps}, {"epochs", result.epochs}, {"seconds", result.seconds}, {"best_step", result.best_step}};
  // The contract rank and the run report read (slimpipe/model_manifest.hpp).
  ModelManifest mm;
  mm.kind = "model";
  if (result.best) mm.primary_metric = result.best->primary;
  mm.param_count = param_count;
  mm.parameters = out.manifest()["training"];
  mm.write(out);
}

class Finetune final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    bool runtime = false;
    for (const auto& f : p.get_string_list("export_formats")) runtime = runtime || f == "runtime";
    const auto args = train::TrainingArguments::from_params(p, "finetune");
    Task& task = ctx.task();
    const HeadSpec head = task.head();
    const std::int64_t max_seq_length = p.get_int("max_seq_length");

    finetune::StartingModel start = starting_model(inputs, p, task, head, args.seed);
    const auto& config = start.model->config();
    if (max_seq_length > config.max_position_embeddings)  // 0 (the task's length) is checked by the model
      throw Error("finetune: max_seq_length " + std::to_string(max_seq_length) + " exceeds the model's " +
                  "max_position_embeddings " + std::to_string(config.max_position_embeddings));
    ctx.log().info(start.description);

    train::Trainer trainer(start.model, task, args, ctx);
    trainer.set_train_data(task.features("train", *start.tokenizer, max_seq_length));
    trainer.set_eval_data(task.features("eval", *start.tokenizer, max_seq_length));
    const train::TrainingResult result = trainer.train();

    auto& out = ctx.output();
    io::save_model(out.dir(), *start.model, start.save);
    Json metrics = {{"eval", result.best ? result.best->all : Json::object()},
                    {"primary", result.best ? result.best->primary : ""},
                    {"train", result.to_json()},
                    {"training_arguments", args.to_json()}};
    write_file_atomic(out.dir() / "metrics.json", metrics.dump(2) + "\n");
    if (runtime) export_runtime_package(ctx, start.model, out.dir(), max_seq_length);
    record_result(out, result, parameter_count(*start.model));
  }
};

Schema schema() {
  using T = ParamType;
  Schema s;
  s.param("from_scratch", T::Bool, false,
          "train a freshly initialised encoder of the size below; the node's input is then ignored (any input will do)")
      .param("hidden_size", T::Int, 128, "from_scratch: hidden size")
      .param("num_hidden_layers", T::Int, 2, "from_scratch: encoder layers")
      .param("num_attention_heads", T::Int, 2, "from_scratch: attention heads")
      .param("intermediate_size", T::Int, 512, "from_scratch: FFN width")
      .param("max_position_embeddings", T::Int, 128, "from_scratch: longest sequence the model accepts")
      .param("hidden_dropout_prob", T::Float, 0.1,
             "from_scratch: dropout after the embeddings, attention output and FFN")
      .param("attention_probs_dropout_prob", T::Float, 0.1, "from_scratch: dropout on the attention probabilities")
      .param("vocab", T::Path, "", "from_scratch: vocab.txt; empty = the task's vocabulary (synthetic sources)")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("export_formats", T::StringList, Json::array({"runtime"}),
             "exports written next to the HF folder: runtime/ (an fp32 slimpipe_runtime package); [] for none",
             Json::array({"runtime"}));
  return train::add_training_arguments(s);
}

}  // namespace

// 1.1.0: writes runtime/ (export_formats); instances built by 1.0.0 rerun once ("plugin changed").
SLIMPIPE_PLUGIN(Finetune, "finetune", "1.2.0",
                "fine-tune a model (or a fresh encoder) on the pipeline's task, keeping the best eval state", schema)
