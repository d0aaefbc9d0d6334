// `slimpipe compress`: PaddleNLP's flags turned into a pipeline (emitted as TOML, checked before anything is
// written), --input_infer_model_path, and --onnx_format False end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "quant/ptq_pipeline_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ptq_test;  // PtqPipeline, run, read_json, read_text, the tiny model

TEST_F(PtqPipeline, CompressBuildsThePipelineFromPaddleNlpFlags) {
  const std::string base = "compress --strategy dynabert+ptq --task seq_cls --source synthetic --model_name_or_path '" +
                           dir_.string() + "/model' --output_dir '" + dir_.string() + "/out' ";
  ASSERT_EQ(run(base + "--width_mult_list 3/4 1/2 --algo_list mse KL --batch_size_list 4 8 --bias_correction "
                       "--num_train_epochs 2 --max_metric_drop 1 --emit-toml",
                dir_ / "emit.log"),
            0)
      << read_text(dir_ / "emit.log");
  const std::string toml = read_text(dir_ / "emit.log");
  for (const char* line : {"type = \"dynabert+ptq\"", "width_mult_list = [\"3/4\", \"1/2\"]",
                           "algo_list = [\"mse\", \"KL\"]", "batch_size_list = [4, 8]", "bias_correction = true",
                           "source = \"synthetic\"", "max_metric_drop = 1.0", "[nodes.rank]", "collect = true"})
    EXPECT_NE(toml.find(line), std::string::npos) << line << "\n" << toml;
  // What it emits is a valid pipeline.
  std::ofstream(dir_ / "emitted.toml") << toml;
  fs::create_directories(dir_ / "model");
  EXPECT_EQ(run("validate '" + (dir_ / "emitted.toml").string() + "'", dir_ / "validate.log"), 0)
      << read_text(dir_ / "validate.log");

  // PaddleNLP's defaults and spellings: no --strategy is dynabert+ptq; --train_file / --eval_file / --test_file
  // set the task's files.
  ASSERT_EQ(run("compress --task seq_cls --model_name_or_path m --output_dir o --train_file t.tsv --eval_file d.tsv "
                "--test_file x.tsv --emit-toml",
                dir_ / "defaults.log"),
            0)
      << read_text(dir_ / "defaults.log");
  const std::string defaults = read_text(dir_ / "defaults.log");
  for (const std::string& line : std::vector<std::string>{
           "type = \"dynabert+ptq\"", "train = \"" + fs::absolute("t.tsv").string() + "\"",
           "eval = \"" + fs::absolute("d.tsv").string() + "\"", "test = \"" + fs::absolute("x.tsv").string() + "\""})
    EXPECT_NE(defaults.find(line), std::string::npos) << line << "\n" << defaults;
  EXPECT_EQ(run("compress --task seq_cls --model_name_or_path m --output_dir o --train_file t.tsv --train t.tsv "
                "--eval_file d.tsv --emit-toml",
                dir_ / "twice.log"),
            2);
  EXPECT_NE(read_text(dir_ / "twice.log").find("--train_file and --train both set the task's train file; keep one"),
            std::string::npos)
      << read_text(dir_ / "twice.log");
  // Training data for distillation is checked before anything is written.
  EXPECT_EQ(run("compress --task seq_cls --model_name_or_path m --output_dir o --eval_file d.tsv --emit-toml",
                dir_ / "notrain.log"),
            2);
  EXPECT_NE(read_text(dir_ / "notrain.log").find("--strategy dynabert+ptq needs training data for distillation"),
            std::string::npos)
      << read_text(dir_ / "notrain.log");

  EXPECT_EQ(run(base + "--algo_lst KL", dir_ / "typo.log"), 2);
  EXPECT_NE(read_text(dir_ / "typo.log")
                .find("--algo_lst: not a parameter of task 'seq_cls', strategy 'dynabert+ptq' or rank "
                      "(did you mean 'algo_list'?)"),
            std::string::npos)
      << read_text(dir_ / "typo.log");
  // --input_infer_model_path: PaddleNLP ignores it outside ptq; here that is an error.
  EXPECT_EQ(run(base + "--input_infer_model_path m/model", dir_ / "infer_dynabert.log"), 2);
  EXPECT_NE(read_text(dir_ / "infer_dynabert.log")
                .find("--input_infer_model_path applies to --strategy ptq only (PaddleNLP silently ignores it for "
                      "'dynabert+ptq')"),
            std::string::npos)
      << read_text(dir_ / "infer_dynabert.log");
}

// --input_infer_model_path DIR/model with --strategy ptq quantizes the exported folder DIR (PaddleNLP's "dir/prefix"
// of a static model); an ONNX file, a missing folder or weights, and an unknown prefix are one-line errors.
TEST_F(PtqPipeline, CompressQuantizesTheExportedFolderOfInputInferModelPath) {
  const fs::path exported = dir_ / "exported";
  fs::create_directories(exported);
  std::ofstream(exported / "config.json") << "{}";
  std::ofstream(exported / "model.safetensors") << "";
  const std::string base = "compress --strategy ptq --task seq_cls --source synthetic --output_dir '" + dir_.string() +
                           "/out' --algo_list KL --emit-toml ";
  auto log_of = [&](const char* name) { return read_text(dir_ / name); };
  for (const std::string& given : {exported.string() + "/model", exported.string()}) {
    ASSERT_EQ(run(base + "--input_infer_model_path '" + given + "'", dir_ / "infer.log"), 0) << log_of("infer.log");
    EXPECT_NE(log_of("infer.log").find("[model]\npath = \"" + exported.string() + "\""), std::string::npos)
        << log_of("infer.log");
  }
  // Given with --model_name_or_path (PaddleNLP's scripts always pass it): the exported folder is quantized, and
  // the run says so.
  ASSERT_EQ(run(base + "--model_name_or_path '" + dir_.string() + "/model' --input_infer_model_path '" +
                    exported.string() + "/model'",
                dir_ / "both.log"),
            0)
      << log_of("both.log");
  EXPECT_NE(log_of("both.log").find("[model]\npath = \"" + exported.string() + "\""), std::string::npos)
      << log_of("both.log");
  EXPECT_NE(log_of("both.log")
                .find("slimpipe compress: quantizing " + exported.string() +
                      " (--input_infer_model_path); "
                      "--model_name_or_path " +
                      dir_.string() + "/model is not used"),
            std::string::npos)
      << log_of("both.log");

  const fs::path onnx_only = dir_ / "onnx_only";
  fs::create_directories(onnx_only);
  std::ofstream(onnx_only / "model.onnx") << "";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {onnx_only.string() + "/model",
       (onnx_only / "model.onnx").string() +
           " is an exported ONNX graph; slimpipe "
           "quantizes the model folder it was exported from (config.json + model.safetensors)"},
      {dir_.string() + "/absent/model", "no folder " + dir_.string() + "/absent"},
      {onnx_only.string() + "/model.onnx", "no config.json in " + onnx_only.string()},
      {exported.string() + "/inference",
       "expected the prefix 'model' (model.safetensors) or 'pytorch_model' "
       "(pytorch_model.bin), got 'inference'"},
      {exported.string() + "/pytorch_model", "no pytorch_model.bin in " + exported.string()}};
  for (const auto& [given, message] : bad) {
    EXPECT_EQ(run(base + "--input_infer_model_path '" + given + "'", dir_ / "bad.log"), 2) << given;
    EXPECT_EQ(log_of("bad.log"), "slimpipe compress: --input_infer_model_path " + given + ": " + message + "\n");
  }
}

// `slimpipe compress ... --onnx_format False` end to end: Paddle's legacy int8 range has no ONNX QDQ or runtime form,
// so each cell warns and keeps its plan, fp32 folder and fake-quant metrics; rank evaluates and ranks them (untimed,
// with the reason); the report has the input model as a row and every Δ against it. --learning_rate with ptq is
// dropped with a warning (AdaRound's rate is --adaround_learning_rate).
TEST_F(PtqPipeline, CompressWithOnnxFormatFalseRunsEndToEnd) {
  std::ofstream(dir_ / "train.toml") << tiny_trained_model_pipeline("trained", 600, 200, 2);
  ASSERT_EQ(run("run '" + (dir_ / "train.toml").string() + "' -q", dir_ / "train.log"), 0)
      << read_text(dir_ / "train.log");
  const fs::path model = dir_ / "trained" / "train";
  const fs::path out = dir_ / "compressed";
  const std::string cmd =
      "compress --strategy ptq --task seq_cls --source synthetic --synthetic_train_size 600 "
      "--synthetic_eval_size 200 --max_seq_length 32 --model_name_or_path '" +
      model.string() + "' --output_dir '" + out.string() +
      "' --algo_list abs_max KL --batch_size_list 4 "
      "--onnx_format False --learning_rate 2e-5 --bench_batches 1 --bench_iters 2 -q";
  ASSERT_EQ(run(cmd, dir_ / "compress.log"), 0) << read_text(dir_ / "compress.log");
  const std::string log = read_text(dir_ / "compress.log");
  EXPECT_NE(log.find("slimpipe compress: warning: --learning_rate is not used with --strategy ptq"), std::string::npos)
      << log;
  EXPECT_NE(log.find("no model.int8.onnx: onnx_format = false"), std::string::npos) << log;
  EXPECT_EQ(read_text(out / "compress.toml").find("learning_rate = 2"), std::string::npos);
  int cells = 0;
  for (const auto& e : fs::directory_iterator(out / "compress")) {
    if (!fs::exists(e.path() / "manifest.json")) continue;
    ++cells;
    for (const char* f :
         {"config.json", "model.safetensors", "calibration.json", "quant_weights.safetensors", "metrics.json"})
      EXPECT_TRUE(fs::exists(e.path() / f)) << e.path() / f;
    EXPECT_FALSE(fs::exists(e.path() / "model.int8.onnx")) << e.path();
    EXPECT_FALSE(fs::exists(e.path() / "runtime")) << e.path();
    const auto m = read_json(e.path() / "manifest.json");
    EXPECT_FALSE(m["params"]["onnx_format"].get<bool>());
    EXPECT_GT(m["metrics"]["accuracy"].get<double>(), 0.0);
  }
  EXPECT_EQ(cells, 2);
  const auto ranking = read_json(out / "rank" / "ranking.json");
  ASSERT_EQ(ranking["candidates"].size(), 2u);
  EXPECT_EQ(ranking["baseline"], "model");
  for (const auto& c : ranking["candidates"]) {
    EXPECT_TRUE(c["delta_interval"].is_array()) << c.dump(2);
    EXPECT_TRUE(c["logit_sqnr_db"].is_number()) << c.dump(2);
    EXPECT_NE(c["latency_note"].get<std::string>().find("not timed"), std::string::npos) << c.dump(2);
  }
  EXPECT_TRUE(fs::exists(out / "rank" / "model.safetensors"));
  // The report: the input model is a row, timed, and every row's Δ is against it.
  const auto summary = read_json(out / "summary.json");
  bool input_row = false;
  for (const auto& r : summary["rows"]) {
    if (r["id"] == "model") {
      input_row = true;
      EXPECT_TRUE(r["metric"].is_number()) << r.dump(2);
      EXPECT_TRUE(r["latency"].contains("batch_1")) << r.dump(2);
    } else if (r["kind"] == "quantized_model") {
      EXPECT_EQ(r["baseline"], "model") << r.dump(2);
      EXPECT_TRUE(r["delta"].is_number()) << r.dump(2);
    }
  }
  EXPECT_TRUE(input_row) << summary.dump(2);
  const std::string report = read_text(out / "report.md");
  EXPECT_EQ(report.find("max_metric_drop null"), std::string::npos) << report;
  EXPECT_NE(report.find("no max_metric_drop"), std::string::npos) << report;
}

}  // namespace
