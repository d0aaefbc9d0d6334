// dynabert strategy: PaddleNLP's Trainer.compress() DynaBERT width pruning: importance on the eval split,
// reorder, width-adaptive distillation against the input model, then one pruned model per width.
#include <ATen/Parallel.h>
#include <torch/types.h>

#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/pruning/importance.hpp"
#include "slimpipe/pruning/model_cost.hpp"
#include "slimpipe/pruning/reorder.hpp"
#include "slimpipe/pruning/width_config.hpp"
#include "slimpipe/pruning/width_distillation.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/input_model.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe/train/training_arguments.hpp"
#include "width_artifact.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

class DynaBert final : public Strategy {
 public:
  using Interface = Strategy;

  std::vector<std::string> outputs(const Params& p) const override {
    std::vector<std::string> names;
    for (double w : pruning::parse_width_list(p.raw("width_mult_list"), "dynabert: width_mult_list"))
      names.push_back(pruning::width_artifact_name(w));
    return names;
  }

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    const auto args = train::TrainingArguments::from_params(p, "dynabert");
    const auto widths = pruning::parse_width_list(p.raw("width_mult_list"), "dynabert: width_mult_list");
    const fs::path dir = inputs.size() == 1 ? inputs[0].dir() : fs::path();
    Task& task = ctx.task();
    io::LoadedModel teacher = tasks::load_input_model(inputs, task, ctx.device(), "dynabert");
    // Checked before any work: a width must keep a whole number of heads in every layer.
    std::vector<pruning::WidthConfig> configs;
    for (double w : widths) configs.push_back(pruning::WidthConfig::for_model(teacher.config, w));

    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
    const auto tokenizer = text::WordPieceTokenizer::from_directory(dir);
    const std::int64_t max_seq_length = p.get_int("max_seq_length");
    auto train_data = task.features("train", tokenizer, max_seq_length);
    auto eval_data = task.features("eval", tokenizer, max_seq_length);
    const c10::Device device(ctx.device());

    // The student starts as a copy of the input model; the input model itself is the teacher.
    nn::TaskModel student(std::dynamic_pointer_cast<nn::TaskModelImpl>(teacher.model->clone()));
    student->to(device);

    // Reference figures: each width sliced from the input model as it is (the first heads and neurons,
    // no importance order, no distillation).
    std::vector<Metrics> naive;
    for (const auto& c : configs) {
      nn::TaskModel sliced = nn::prune(*student, c.heads, c.intermediate);
      naive.push_back(task.evaluate(*sliced, *eval_data, args.per_device_eval_batch_size));
      ctx.log().info("width " + pruning::width_text(c.width) + " sliced without reordering: " + naive.back().primary +
                     "=" + std::to_string(naive.back().value));
    }

    ctx.progress().begin("importance", 1);
    const pruning::Importance importance =
        pruning::compute_importance(*student, task, *eval_data, args.per_device_eval_batch_size, device);
    const pruning::ReorderPlan plan = pruning::plan_reorder(*student, importance);
    pruning::apply_reorder(*student, plan);
    ctx.progress().update(1);
    ctx.progress().end();
    std::string order;
    for (std::size_t l = 0; l < plan.heads.size(); ++l) {
      order += (l ? "; layer " : "layer ") + std::to_string(l) + ":";
      for (auto h : plan.heads[l]) order += " " + std::to_string(h);
    }
    ctx.log().info("importance over " + std::to_string(importance.batches) + " eval batches; head order " + order);

    pruning::WidthDistillation distill(student, teacher.model, task, args, p.get_float("lambda_distill"), configs, ctx);
    distill.set_train_data(train_data);
    distill.set_eval_data(eval_data);
    dynabert::InputModelFigures input;
    input.metrics = distill.evaluate_teacher();
    input.param_count = pruning::parameter_count(*teacher.model);
    dynabert::ExportOptions options;
    options.save.tokenizer_dir = dir;
    options.flops_seq_length = p.get_int("flops_seq_length");
    for (const auto& f : p.get_string_list("export_formats")) {
      options.torchscript = options.torchscript || f == "torchscript";
      options.onnx = options.onnx || f == "onnx";
      options.runtime = options.runtime || f == "runtime";
    }
    if (inputs.size() == 1)
      options.input_model = {{"id", inputs[0].id()},
                             {"dir", fs::absolute(inputs[0].dir()).lexically_normal().string()}};
    input.flops_per_token = pruning::encoder_flops_per_token(teacher.config, options.flops_seq_length);
    ctx.log().info("input model: " + input.metrics.primary + "=" + std::to_string(input.metrics.value) + ", " +
                   std::to_string(input.param_count) + " parameters");

    const pruning::DistillationResult result = distill.train();
    const Json training = {{"steps", result.steps},
                           {"seconds", result.seconds},
                           {"log_history", result.log_history},
                           {"training_arguments", args.to_json()},
                           {"lambda_distill", p.get_float("lambda_distill")},
                           {"head_order", plan.heads}};
    for (std::size_t i = 0; i < result.widths.size(); ++i)
      dynabert::write_width_artifact(ctx.output(result.widths[i].width.name()), result.widths[i], naive[i], input,
                                     options, training);
  }
};

Schema schema() {
  using T = ParamType;
  Schema s;
  s.param("width_mult_list", T::ScalarList, Json::array({"3/4"}),
          "widths to train and export, numbers or fractions as strings (\"3/4\", \"2/3\", 0.5); each must keep a "
          "whole number of heads per layer; one artifact width_<w> each")
      .param("lambda_distill", T::Float, 0.1, "weight of the hidden-state MSE (embedding output + every layer)")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("export_formats", T::StringList, Json::array({"torchscript", "onnx", "runtime"}),
             "exports written next to the HF folder of each width: model.pt, model.onnx, runtime/ (slimpipe_runtime)",
             Json::array({"torchscript", "onnx", "runtime"}))
      .param("flops_seq_length", T::Int, 128, "sequence length at which the manifest's FLOPs per token are counted");
  // PaddleNLP's CompressionArguments change these TrainingArguments defaults.
  train::TrainingArguments defaults;
  defaults.logging_steps = 100;
  defaults.save_steps = 100;
  defaults.warmup_ratio = 0.1;
  return train::add_training_arguments(s, defaults);
}

}  // namespace

SLIMPIPE_PLUGIN(DynaBert, "dynabert", "1.3.0",
                "DynaBERT width pruning: importance, reorder, width-adaptive distillation, one pruned model per width",
                schema)
