// ptq strategy: one cell of PaddleNLP's post-training quantization grid (algo x batch_size x batch_num):
// calibrate, round the weights, correct the biases, then evaluate the fake-quant model with the task's metric
// (PaddleNLP never does), report per-site sensitivity and write the int8 model.
#include "slimpipe/quant/ptq.hpp"

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/input_model.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

quant::PtqOptions options_from(const Params& p) {
  quant::PtqOptions o;
  o.algo = p.get_string("algo");
  o.batch_size = p.get_int("batch_size");
  o.batch_num = p.get_int("batch_num");
  o.weight_type = quant::weight_quant_type_from_string(p.get_string("weight_quantize_type"));
  o.round_type = quant::round_type_from_string(p.get_string("round_type"));
  o.bias_correction = p.get_bool("bias_correction");
  o.skip_sites = p.get_string_list("skip_sites");
  o.linear_only = p.get_bool("linear_only");
  o.probs_fixed_range = p.get_bool("probs_fixed_range");
  o.observer.paddle_compat = p.get_bool("paddle_compat");
  o.observer.onnx_format = p.get_bool("onnx_format");
  // Each option goes only to the algorithms that take it, so one node can fan out over all of them.
  if (o.algo == "hist") o.observer.hist_percent = p.get_float("hist_percent");
  if (o.algo == "percentile") o.observer.percentile = p.get_float("percentile");
  const std::int64_t bins = p.get_int("bins");
  const bool takes_bins = o.algo == "hist" || o.algo == "KL" || o.algo == "percentile" ||
                          ((o.algo == "mse" || o.algo == "emd") && !o.observer.paddle_compat);
  if (bins > 0 && takes_bins) o.observer.bins = bins;
  o.adaround.iterations = p.get_int("adaround_iterations");
  o.adaround.learning_rate = p.get_float("adaround_learning_rate");
  o.sample_rows = p.get_int("sample_rows");
  return o;
}

void write_sensitivity_csv(const fs::path& file, const quant::SensitivityReport& report,
                           const quant::FakeQuantPlan& plan) {
  std::ostringstream out;
  out << "rank,site,kind,output_sqnr_db,output_mse,left_sqnr_db,right_sqnr_db,left_threshold,right_threshold\n";
  int rank = 0;
  for (const auto& s : report.sites) {
    auto threshold = [&](int operand) {
      auto it = plan.activation_thresholds.find({s.site, operand});
      return it == plan.activation_thresholds.end() ? std::string() : fixed(it->second, 6);
    };
    std::string right_t = s.kind == "linear" ? "" : threshold(1);
    out << ++rank << "," << s.site << "," << s.kind << "," << fixed(s.output.sqnr_db, 3) << "," << s.output.mse << ","
        << (s.left.count ? fixed(s.left.sqnr_db, 3) : "") << "," << (s.right.count ? fixed(s.right.sqnr_db, 3) : "")
        << "," << threshold(0) << "," << right_t << "\n";
  }
  write_file_atomic(file, out.str());
}

// What the plan would accept but slimpipe's int8 paths cannot honour, refused while the pipeline is planned (so
// `slimpipe validate` and `compress` stop before anything runs), one line each (docs/errors.md).
void refuse_what_cannot_be_honoured(const Params& p) {
  if (p.has("algo") && p.raw("algo").is_string() && p.get_string("algo") == "min_max")
    throw Error(
        "ptq: algo 'min_max' is not supported: Paddle's min_max keeps asymmetric min/max ranges, and "
        "slimpipe's int8 (fake quant, QDQ export, runtime) is symmetric with zero point 0; use 'abs_max', the "
        "symmetric threshold max(-min, max) of the same ranges");
}

// Paddle's name for a cell, such as "mse4_1".
std::string cell_name(const quant::PtqOptions& options) {
  return options.algo + std::to_string(options.batch_size) + "_" + std::to_string(options.batch_num);
}

// Calibrates and rounds the weights, the phases shown on the progress bar, and logs what was calibrated.
quant::PtqResult calibrate(Context& ctx, nn::TaskModelImpl& model, const FeatureSet& calibration,
                           const quant::PtqOptions& options, const std::string& cell) {
  // Phase names are what the progress bar shows.
  quant::PtqResult result = quant::quantize_post_training(
      model, calibration, options, [&](const std::string& phase, std::int64_t done, std::int64_t total) {
        if (done == 0) {
          ctx.progress().begin(phase, total);
          return;
        }
        ctx.progress().update(done);
        if (done == total) ctx.progress().end();
        ctx.throw_if_cancelled();
      });
  ctx.log().info("ptq " + cell + ": calibrated " + std::to_string(result.plan.activation_thresholds.size()) +
                 " activation operands and " + std::to_string(result.plan.weights.size()) + " weights on " +
                 std::to_string(result.calibration_features) + " features in " +
                 std::to_string(result.calibration_batches) + " batches (" + fixed(result.calibration_seconds, 2) +
                 " s calibration, " + fixed(result.weight_seconds, 2) + " s weights)");
  return result;
}

// The runtime package stores the INT8 model's word-embedding table as IEEE half (RuntimeExportOptions): the model
// this cell ships is that one, so the table is rounded here, once. The fake-quant metric, the saved model, the
// QDQ export and the package are then the same model (evaluated on the float table, the metric could differ from
// the package's by an example).
void round_word_embeddings_to_half(nn::TaskModel& model) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters())
    if (item.key() == "embeddings.word_embeddings.weight")
      item.value().copy_(item.value().to(at::kHalf).to(item.value().scalar_type()));
}

// The input model's and the fake-quant model's metrics, and how far each site moves the output.
struct CellScores {
  Metrics fp32, int8;
  quant::SensitivityReport sensitivity;
};

CellScores score_cell(Context& ctx, Task& task, nn::TaskModelImpl& input, quant::PtqResult& result,
                      const std::shared_ptr<const FeatureSet>& eval_data, std::int64_t eval_batch,
                      std::int64_t sensitivity_samples) {
  CellScores scores;
  ctx.progress().begin("evaluate", 2);
  scores.fp32 = task.evaluate(input, *eval_data, eval_batch);
  ctx.progress().update(1);
  scores.int8 = task.evaluate(*result.model, *eval_data, eval_batch, quant::make_fake_quant_hook(result.plan));
  ctx.progress().update(2);
  ctx.progress().end();
  const auto sens_data = quant::first_features(eval_data, sensitivity_samples);
  scores.sensitivity = quant::site_sensitivity(input, *result.model, result.plan, *sens_data, eval_batch);
  return scores;
}

// The cell's settings as calibration.json, metrics.json and the manifest record them.
Json cell_settings(const Params& p, const quant::PtqOptions& options, const std::string& cell, nn::TaskModelImpl& input,
                   const quant::PtqResult& result) {
  return {{"algo", options.algo},
          {"batch_size", options.batch_size},
          {"batch_num", options.batch_num},
          {"paddle_name", cell},
          {"weight_quantize_type", p.get_string("weight_quantize_type")},
          {"round_type", p.get_string("round_type")},
          {"bias_correction", options.bias_correction},
          {"paddle_compat", options.observer.paddle_compat},
          {"skip_sites", quant::matching_sites(input, options.skip_sites)},
          {"linear_only", options.linear_only},
          {"probs_fixed_range", options.probs_fixed_range},
          {"calibration_features", result.calibration_features},
          {"calibration_batches", result.calibration_batches}};
}

// Writes the export_formats beside the HF folder; returns every file the cell wrote (the manifest's "exports").
Json write_exports(Context& ctx, const Params& p, const quant::PtqOptions& options, const std::string& cell,
                   quant::PtqResult& result, const fs::path& dir) {
  Json files = {"config.json", "model.safetensors", "calibration.json", "quant_weights.safetensors", "sensitivity.csv"};
  for (const auto& f : p.get_string_list("export_formats"))
    if (f == "onnx") {
      // ONNX QuantizeLinear saturates to [-128, 127]: a legacy plan (onnx_format = false, [-127, 127]) has no QDQ
      // form, so the cell keeps its other outputs and says why model.int8.onnx is missing.
      if (!options.observer.onnx_format) {
        ctx.log().warn("ptq " + cell +
                       ": no model.int8.onnx: onnx_format = false is Paddle's legacy int8 range "
                       "[-127, 127], which ONNX QDQ (range [-128, 127]) cannot express; the plan, the fp32 folder "
                       "and the fake-quant metrics are written");
        continue;
      }
      exporter::export_qdq_onnx(*result.model, result.plan, dir / "model.int8.onnx");
      files.push_back("model.int8.onnx");
    } else if (f == "runtime") {
      // slimpipe_runtime's format (docs/runtime.md): what `slimpipe bench` and rank time. Plans the integer
      // kernels cannot run (onnx_format = false, weight_bits != 8) are written without it, with a warning.
      try {
        exporter::export_runtime(*result.model, result.plan, dir / "runtime");
        for (const auto& f : exporter::runtime_package_files(dir / "runtime")) files.push_back(f);
      } catch (const Error& e) {
        fs::remove_all(dir / "runtime");
        ctx.log().warn("ptq " + cell + ": no runtime export: " + std::string(e.what()));
      }
    }
  return files;
}

// The "ptq" block of metrics.json.
Json ptq_figures(const CellScores& scores, const quant::PtqResult& result, std::int64_t int8_bytes,
                 std::int64_t fp32_bytes) {
  const quant::SensitivityReport& sensitivity = scores.sensitivity;
  Json adaround = Json::object();
  for (const auto& [site, r] : result.adaround)
    adaround[site] = {{"nearest_mse", r.nearest_loss}, {"adaround_mse", r.adaround_loss}};
  Json sites = Json::array();
  for (const auto& s : sensitivity.sites) sites.push_back(s.site);
  return {{"eval", scores.int8.all},
          {"input_model_eval", scores.fp32.all},
          {"delta", scores.int8.value - scores.fp32.value},
          {"logit_sqnr_db", std::isinf(sensitivity.logits.sqnr_db) ? Json(nullptr) : Json(sensitivity.logits.sqnr_db)},
          {"logit_mse", sensitivity.logits.mse},
          {"int8_size_bytes", int8_bytes},
          {"fp32_size_bytes", fp32_bytes},
          {"calibration_seconds", result.calibration_seconds},
          {"weight_seconds", result.weight_seconds},
          {"sensitivity_order", sites},
          {"adaround", adaround}};
}

// What the artifact records of a cell: kind, metrics, manifest fields and the ModelManifest block.
struct CellRecord {
  std::string cell;
  Json settings, files;
  std::int64_t int8_bytes, fp32_bytes;
};

void record_cell(OutputArtifact& out, const Artifact& input, const CellRecord& rec, const CellScores& scores) {
  const Metrics& int8 = scores.int8;
  const Metrics& fp32 = scores.fp32;
  const quant::SensitivityReport& sensitivity = scores.sensitivity;
  out.set_kind("quantized_model");
  for (const auto& [name, value] : int8.all.items())
    if (value.is_number()) out.set_metric(name, value.get<double>());
  out.set_metric("input_" + int8.primary, fp32.value);
  out.set_metric("delta_" + int8.primary, int8.value - fp32.value);
  if (!std::isinf(sensitivity.logits.sqnr_db)) out.set_metric("logit_sqnr_db", sensitivity.logits.sqnr_db);
  out.manifest()["primary_metric"] = int8.primary;
  out.manifest()["paddle_name"] = rec.cell;
  out.manifest()["ptq"] = rec.settings;
  out.manifest()["size_bytes_int8"] = rec.int8_bytes;
  out.manifest()["size_bytes_fp32"] = rec.fp32_bytes;
  out.manifest()["exports"] = rec.files;
  // Where the fp32 model came from: rank times it as the speed baseline.
  out.manifest()["input_model"] = {{"id", input.id()}, {"dir", fs::absolute(input.dir()).lexically_normal().string()}};
  // The contract rank and the run report read (slimpipe/model_manifest.hpp).
  ModelManifest mm;
  mm.kind = "quantized_model";
  mm.primary_metric = int8.primary;
  mm.input_model = ModelRef{input.id(), fs::absolute(input.dir()).lexically_normal()};
  mm.input_metric = fp32.value;
  mm.model_bytes = rec.int8_bytes;
  mm.label = rec.cell;
  mm.parameters = rec.settings;
  if (!std::isinf(sensitivity.logits.sqnr_db)) mm.logit_sqnr_db = sensitivity.logits.sqnr_db;
  for (const auto& s : sensitivity.sites) mm.site_sensitivity.emplace_back(s.site, s.output.sqnr_db);
  // A dynabert width upstream: carried along so rankings can group by it, with the unpruned model's metric.
  if (const auto parent = ModelManifest::read(input)) {
    mm.width = parent->width;
    mm.param_count = parent->param_count;
    mm.origin_metric = parent->input_metric;
    if (parent->width) out.manifest()["width"] = *parent->width;
    if (parent->input_metric) out.set_metric("origin_" + int8.primary, *parent->input_metric);
  }
  mm.write(out);
  out.manifest()["load"] =
      "fp32 HF folder (biases corrected when bias_correction) + calibration.json + quant_weights.safetensors "
      "(slimpipe::quant::load_plan, make_fake_quant_hook); QDQ ONNX: model.int8.onnx; slimpipe_runtime: runtime/";
}

class Ptq final : public Strategy {
 public:
  using Interface = Strategy;

  std::vector<std::string> outputs(const Params& p) const override {
    refuse_what_cannot_be_honoured(p);
    return {""};
  }

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    const quant::PtqOptions options = options_from(p);
    quant::validate_ptq_options(options);
    const fs::path dir = inputs.size() == 1 ? inputs[0].dir() : fs::path();
    Task& task = ctx.task();
    io::LoadedModel input = tasks::load_input_model(inputs, task, ctx.device(), "ptq");
    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
    const auto tokenizer = text::WordPieceTokenizer::from_directory(dir);
    const std::int64_t max_seq_length = p.get_int("max_seq_length");
    const std::int64_t eval_batch = p.get_int("per_device_eval_batch_size");
    auto calibration = task.features("calibration", tokenizer, max_seq_length);
    auto eval_data = task.features("eval", tokenizer, max_seq_length);
    const std::string cell = cell_name(options);
    if (options.batch_num > 0 && calibration->size() < options.batch_size * options.batch_num)
      ctx.log().warn("ptq " + cell + ": the calibration split has " + std::to_string(calibration->size()) +
                     " features, fewer than batch_size x batch_num = " +
                     std::to_string(options.batch_size * options.batch_num) + "; calibrating on all of them");

    const auto formats = p.get_string_list("export_formats");
    const bool exports_runtime = std::find(formats.begin(), formats.end(), "runtime") != formats.end();
    quant::PtqResult result = calibrate(ctx, *input.model, *calibration, options, cell);
    if (exports_runtime) round_word_embeddings_to_half(result.model);
    const CellScores scores =
        score_cell(ctx, task, *input.model, result, eval_data, eval_batch, p.get_int("sensitivity_samples"));

    auto& out = ctx.output();
    io::SaveOptions save;
    save.tokenizer_dir = dir;
    io::save_model(out.dir(), *result.model, save);
    CellRecord rec{cell, cell_settings(p, options, cell, *input.model, result), Json(), 0, 0};
    quant::save_plan(out.dir(), result.plan, {{"cell", rec.settings}});
    write_sensitivity_csv(out.dir() / "sensitivity.csv", scores.sensitivity, result.plan);
    rec.files = write_exports(ctx, p, options, cell, result, out.dir());
    rec.int8_bytes = quant::quantized_size_bytes(*result.model, result.plan);
    rec.fp32_bytes = quant::fp32_size_bytes(*input.model);
    const Json figures = ptq_figures(scores, result, rec.int8_bytes, rec.fp32_bytes);
    write_file_atomic(out.dir() / "metrics.json",
                      Json{{"primary", scores.int8.primary}, {"ptq", figures}, {"cell", rec.settings}}.dump(2) + "\n");
    record_cell(out, inputs[0], rec, scores);
    const Metrics& int8 = scores.int8;
    ctx.log().info("ptq " + cell + ": " + int8.primary + " " + fixed(int8.value, 2) + " (fp32 " +
                   fixed(scores.fp32.value, 2) + ", delta " + fixed(int8.value - scores.fp32.value, 2) +
                   "), logit SQNR " + fixed(scores.sensitivity.logits.sqnr_db, 1) + " dB, most sensitive site " +
                   (scores.sensitivity.sites.empty() ? std::string("-") : scores.sensitivity.sites.front().site));
  }
};

Schema schema() {
  using T = ParamType;
  Schema s;
  Json algos = Json::array();
  for (const auto& a : quant::observer_algos()) algos.push_back(a);
  s.param("algo", T::String, nullptr,
          "activation calibration algorithm of this cell ('min_max' is refused: asymmetric ranges; use 'abs_max')",
          algos)
      .param("algo_list", T::StringList, Json::array({"mse", "KL"}),
             "PaddleNLP's flat list: fans out into matrix cells of 'algo'", algos)
      .param("batch_size", T::Int, nullptr, "calibration batch size of this cell")
      .param("batch_size_list", T::IntList, Json::array({4, 8, 16}), "fans out into matrix cells of 'batch_size'")
      .param("batch_num", T::Int, nullptr,
             "calibration batches of this cell: the first batch_size x batch_num eval features, in order; 0 = all")
      .param("batch_num_list", T::IntList, Json::array({1}), "fans out into matrix cells of 'batch_num'")
      .param("weight_quantize_type", T::String, "channel_wise_abs_max",
             "weight thresholds per output channel or per tensor", Json::array({"channel_wise_abs_max", "abs_max"}))
      .param("round_type", T::String, "round", "weight rounding: to nearest, or AdaRound against the layer output",
             Json::array({"round", "adaround"}))
      .param("adaround_iterations", T::Int, 1000, "AdaRound optimisation steps per Linear")
      .param("adaround_learning_rate", T::Float, 0.001,
             "AdaRound's Adam learning rate (round_type = adaround; PaddleNLP passes its training learning_rate here)")
      .param("bias_correction", T::Bool, false,
             "fold each Linear's mean output error on the calibration data into its bias")
      .param("hist_percent", T::Float, 0.9999, "hist: fraction of |x| kept (PaddleNLP's value)")
      .param("percentile", T::Float, 99.99, "percentile: percent of |x| kept")
      .param("bins", T::Int, 0, "histogram bins for hist/KL/percentile/mse/emd; 0 = the algorithm's default")
      .param("paddle_compat", T::Bool, false, "reproduce PaddleSlim's thresholds exactly, quirks included")
      .param("onnx_format", T::Bool, true,
             "int8 range [-128, 127] as ONNX QDQ (PaddleNLP's default); false: [-127, 127]")
      .param("skip_sites", T::StringList, Json::array(),
             "sites left in fp32: glob patterns such as 'classifier' or "
             "'encoder.layer.*.output.dense'")
      .param("linear_only", T::Bool, false, "leave the attention MatMuls (Q.K^T, P.V) in fp32")
      .param(
          "probs_fixed_range", T::Bool, true,
          "attention probabilities (P of P.V) get threshold 1.0 (scale 1/127, their range [0, 1]) whatever the algo; "
          "false: calibrated like every other operand, as Paddle does")
      .param("sample_rows", T::Int, 4096, "input rows kept per Linear for AdaRound and bias correction")
      .param("sensitivity_samples", T::Int, 128,
             "eval features over which sensitivity.csv and the logit SQNR are measured")
      .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("export_formats", T::StringList, Json::array({"onnx", "runtime"}),
             "next to the HF folder: model.int8.onnx (QDQ), runtime/ (slimpipe_runtime INT8, docs/runtime.md)",
             Json::array({"onnx", "runtime"}));
  return s;
}

}  // namespace

SLIMPIPE_PLUGIN(Ptq, "ptq", "1.3.0",
                "post-training INT8 quantization: one calibration cell, evaluated, with sensitivity and QDQ export",
                schema)
