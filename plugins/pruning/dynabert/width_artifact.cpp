// One width's artifact. The model written is the pruned copy kept at that width's best evaluation, built
// from the supernet afresh for every width (PaddleNLP prunes its template in place, so a second width
// compounds the first).
#include "width_artifact.hpp"

#include "slimpipe/export/onnx_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/export/torchscript_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/pruning/model_cost.hpp"

namespace slimpipe::dynabert {

void write_width_artifact(OutputArtifact& out, const pruning::WidthOutcome& outcome, const Metrics& naive_slice,
                          const InputModelFigures& input, const ExportOptions& options, const Json& training) {
  const nn::TaskModelImpl& model = *outcome.best_model;
  io::save_model(out.dir(), model, options.save);
  Json files = {"config.json", "model.safetensors"};
  if (options.torchscript) {
    exporter::export_torchscript(model, out.dir() / "model.pt");
    files.push_back("model.pt");
  }
  if (options.onnx) {
    exporter::export_onnx(model, out.dir() / "model.onnx");
    files.push_back("model.onnx");
  }
  if (options.runtime) {
    exporter::export_runtime(model, out.dir() / "runtime");
    for (const auto& f : exporter::runtime_package_files(out.dir() / "runtime")) files.push_back(f);
  }

  const std::int64_t params = pruning::parameter_count(model);
  const double flops = pruning::encoder_flops_per_token(model.config(), options.flops_seq_length);
  const std::string w = pruning::width_text(outcome.width.width);
  Json figures = {{"width", outcome.width.width},
                  {"paddle_name", pruning::paddle_width_name(outcome.width.width)},
                  {"heads_per_layer", outcome.width.heads},
                  {"intermediate_per_layer", outcome.width.intermediate},
                  {"param_count", params},
                  {"param_ratio", static_cast<double>(params) / static_cast<double>(input.param_count)},
                  {"flops_per_token", flops},
                  {"flops_ratio", flops / input.flops_per_token},
                  {"flops_seq_length", options.flops_seq_length},
                  {"best_step", outcome.best_step},
                  {"eval", outcome.best->all},
                  {"sliced_before_distillation", outcome.sliced.all},
                  {"sliced_without_reordering", naive_slice.all},
                  {"input_model_eval", input.metrics.all}};
  write_file_atomic(
      out.dir() / "metrics.json",
      Json{{"primary", outcome.best->primary}, {"dynabert", figures}, {"training", training}}.dump(2) + "\n");

  out.set_kind("model");
  for (const auto& [name, value] : outcome.best->all.items())
    if (value.is_number()) out.set_metric(name, value.get<double>());
  out.set_metric("sliced_" + outcome.best->primary, outcome.sliced.value);
  out.set_metric("naive_sliced_" + outcome.best->primary, naive_slice.value);
  out.set_metric("input_" + outcome.best->primary, input.metrics.value);
  out.manifest()["primary_metric"] = outcome.best->primary;
  out.manifest()["param_count"] = params;
  out.manifest()["width"] = outcome.width.width;
  out.manifest()["paddle_name"] = pruning::paddle_width_name(outcome.width.width);
  out.manifest()["dynabert"] = figures;
  out.manifest()["exports"] = files;
  if (!options.input_model.is_null()) out.manifest()["input_model"] = options.input_model;
  // The contract rank and the run report read (slimpipe/model_manifest.hpp).
  ModelManifest mm;
  mm.kind = "model";
  mm.primary_metric = outcome.best->primary;
  if (options.input_model.is_object())
    mm.input_model =
        ModelRef{options.input_model.value("id", std::string()), options.input_model.value("dir", std::string())};
  mm.input_metric = input.metrics.value;
  mm.param_count = params;
  mm.width = outcome.width.width;
  mm.parameters = {{"heads_per_layer", outcome.width.heads},
                   {"intermediate_per_layer", outcome.width.intermediate},
                   {"flops_ratio", flops / input.flops_per_token}};
  mm.write(out);
  std::string load = "HF folder: config.json (pruned_heads) + model.safetensors";
  if (options.torchscript) load += "; TorchScript: model.pt";
  if (options.onnx) load += "; ONNX: model.onnx";
  if (options.runtime) load += "; slimpipe_runtime: runtime/";
  out.manifest()["load"] = load;
}

}  // namespace slimpipe::dynabert
