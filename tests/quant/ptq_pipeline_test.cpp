// The ptq and rank plugins through the CLI: PaddleNLP's flat lists fan out into parallel cells, every cell is
// evaluated and writes its calibration, sensitivity report and QDQ model, and rank picks the best and falls
// back sites to fp32.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error(p.string() + ": cannot open");
  return nlohmann::json::parse(in);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int run(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(SLIMPIPE_CLI) + " " + args + " > '" + log.string() + "' 2>&1";
  return WEXITSTATUS(std::system(cmd.c_str()));
}

bool plugins_built() {
  const fs::path plugins = fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins";
  for (const char* lib :
       {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_ptq.so", "libslimpipe_rank.so"})
    if (!fs::exists(plugins / lib)) return false;
  return true;
}

const char* kPipeline = R"(
[pipeline]
name = "ptq_test"
output_dir = "out"
seed = 3
max_parallel = 2
threads_per_instance = 1

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 1200
synthetic_eval_size = 300
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 32
learning_rate = 3e-3
num_train_epochs = 3
per_device_train_batch_size = 32
per_device_eval_batch_size = 100
save_steps = 1000
logging_steps = 1000

[nodes.quant]
type = "ptq"
inputs = ["train"]
algo_list = ["abs_max", "KL"]
batch_size_list = [4]
batch_num_list = [2]
per_device_eval_batch_size = 100
sensitivity_samples = 64

[nodes.best]
type = "rank"
inputs = ["quant"]
collect = true
max_metric_drop = 100.0

[nodes.fallback]
type = "rank"
inputs = ["quant"]
collect = true
fallback_until_drop_below = -1000.0
fallback_max_sites = 3

[nodes.strict]
type = "rank"
inputs = ["quant"]
collect = true
min_logit_sqnr_db = 1000.0
bench = false

[nodes.fastest]
type = "rank"
inputs = ["quant"]
collect = true
max_metric_drop = 100.0
objective = "latency"
bench_batches = [4]
bench_iters = 2
bench_rounds = 1
)";

class PtqPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!plugins_built())
      GTEST_FAIL() << "ptq, rank, finetune or seq_cls plugin is not built (every test program depends on target "
                      "slimpipe_plugins: a build error?)";
    dir_ = fs::temp_directory_path() / ("slimpipe_ptq_pipeline_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "pipeline.toml") << kPipeline;
  }
  void TearDown() override {
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(PtqPipeline, FlatListsFanOutEveryCellIsEvaluatedAndRankKeepsTheBest) {
  ASSERT_EQ(run("plan '" + (dir_ / "pipeline.toml").string() + "'", dir_ / "plan.log"), 0)
      << read_text(dir_ / "plan.log");
  const std::string plan = read_text(dir_ / "plan.log");
  EXPECT_NE(plan.find("quant@algo=abs_max,batch_size=4,batch_num=2"), std::string::npos) << plan;
  EXPECT_NE(plan.find("quant@algo=KL,batch_size=4,batch_num=2"), std::string::npos) << plan;

  ASSERT_EQ(run("run '" + (dir_ / "pipeline.toml").string() + "' -q", dir_ / "run.log"), 0)
      << read_text(dir_ / "run.log");
  const fs::path out = dir_ / "out";
  const double fp32 = read_json(out / "train" / "manifest.json")["metrics"]["accuracy"].get<double>();
  int cells = 0;
  for (const auto& e : fs::directory_iterator(out / "quant")) {
    if (!fs::exists(e.path() / "manifest.json")) continue;
    ++cells;
    const auto m = read_json(e.path() / "manifest.json");
    EXPECT_EQ(m["kind"], "quantized_model");
    EXPECT_NEAR(m["metrics"]["input_accuracy"].get<double>(), fp32, 1e-9) << e.path();
    const double acc = m["metrics"]["accuracy"].get<double>();
    EXPECT_NEAR(acc - fp32, m["metrics"]["delta_accuracy"].get<double>(), 1e-9);
    EXPECT_GT(acc, 40.0) << "the int8 model must still work (chance is 33%)";
    for (const char* f :
         {"config.json", "model.safetensors", "vocab.txt", "calibration.json", "quant_weights.safetensors",
          "sensitivity.csv", "model.int8.onnx", "metrics.json", "runtime/runtime.json", "runtime/weights.bin"})
      EXPECT_TRUE(fs::exists(e.path() / f)) << e.path() / f;
    EXPECT_EQ(m["input_model"]["id"], "train");
    EXPECT_EQ(read_json(e.path() / "runtime" / "runtime.json")["precision"], "int8");
    // 2 layers x (4 attention Linears + 2 FFN + 2 MatMuls) + pooler + classifier.
    std::ifstream csv(e.path() / "sensitivity.csv");
    std::string line;
    int rows = -1;
    while (std::getline(csv, line)) ++rows;
    EXPECT_EQ(rows, 18) << e.path();
    const auto cal = read_json(e.path() / "calibration.json");
    EXPECT_EQ(cal["activations"].size(), 2u * 10u + 2u);
    EXPECT_EQ(cal["weights"].size(), 14u);
    EXPECT_EQ(cal["cell"]["calibration_features"], 8);
    EXPECT_LT(m["size_bytes_int8"].get<std::int64_t>(), m["size_bytes_fp32"].get<std::int64_t>());
  }
  EXPECT_EQ(cells, 2);

  const auto best = read_json(out / "best" / "manifest.json");
  const auto ranking = read_json(out / "best" / "ranking.json");
  ASSERT_EQ(ranking["candidates"].size(), 2u);
  EXPECT_EQ(best["best"], ranking["candidates"][0]["id"]);
  // The best has the highest accuracy, or one within noise of it and a higher logit SQNR (the noise-aware rule).
  const auto& first = ranking["candidates"][0];
  const auto& second = ranking["candidates"][1];
  if (first["accuracy"].get<double>() < second["accuracy"].get<double>()) {
    EXPECT_TRUE(first["within_noise_of_best"].get<bool>()) << ranking.dump(2);
    EXPECT_NE(ranking["choice"]["decided_by"], "metric") << ranking.dump(2);
    EXPECT_GE(first["logit_sqnr_db"].get<double>(), second["logit_sqnr_db"].get<double>() - 1.0) << ranking.dump(2);
  }
  EXPECT_TRUE(fs::exists(out / "best" / "model.int8.onnx"));
  EXPECT_TRUE(fs::exists(out / "best" / "ranking.md"));
  EXPECT_TRUE(fs::exists(out / "best" / "runtime" / "runtime.json"));

  // Every candidate timed with the runtime at batch 1 and 32, against the fp32 model the cells came from.
  const auto& bench = ranking["bench"];
  ASSERT_TRUE(bench.is_object()) << ranking.dump(2);
  EXPECT_EQ(bench["batches"], nlohmann::json::parse("[1, 32]"));
  EXPECT_EQ(bench["threads"], 1);
  ASSERT_TRUE(bench["baseline"].is_object()) << ranking.dump(2);
  EXPECT_EQ(bench["baseline"]["id"], "train");
  for (const auto& c : ranking["candidates"]) {
    EXPECT_EQ(c["runtime_precision"], "int8");
    for (const char* b : {"batch_1", "batch_32"}) {
      const auto& lat = c["latency"][b];
      ASSERT_TRUE(lat.is_object()) << c.dump(2);
      EXPECT_GT(lat["p50_ms"].get<double>(), 0.0);
      EXPECT_GE(lat["p90_ms"].get<double>(), lat["p50_ms"].get<double>());
      EXPECT_EQ(lat["runs"], 6);  // 2 rounds x 3 runs
      EXPECT_NEAR(lat["speedup"].get<double>(),
                  bench["baseline"]["latency"][b]["p50_ms"].get<double>() / lat["p50_ms"].get<double>(), 1e-9);
    }
  }
  EXPECT_NE(read_text(out / "best" / "ranking.md").find("| p50 ms b1 | speedup b1 |"), std::string::npos);

  // Noise-aware choice: rank evaluated the fp32 model and both cells on the same 300 examples. Δ against train
  // with its paired-bootstrap interval, logit SQNR and agreement against the fp32 model each cell came from.
  EXPECT_EQ(ranking["baseline"], "train");
  EXPECT_EQ(ranking["evaluation"]["examples"], 300);
  EXPECT_EQ(ranking["evaluation"]["resamples"], 1000);
  ASSERT_TRUE(ranking["models"].is_array() && !ranking["models"].empty()) << ranking.dump(2);
  EXPECT_EQ(ranking["models"][0]["role"], "baseline");
  EXPECT_NEAR(ranking["models"][0]["accuracy"].get<double>(), fp32, 1e-9) << "rank's evaluation equals finetune's";
  for (const auto& c : ranking["candidates"]) {
    EXPECT_TRUE(c["evaluated_by_rank"].get<bool>()) << c.dump(2);
    const auto& ci = c["delta_interval"];
    ASSERT_TRUE(ci.is_array()) << c.dump(2);
    EXPECT_LE(ci[0].get<double>(), c["delta"].get<double>() + 1e-9);
    EXPECT_GE(ci[1].get<double>(), c["delta"].get<double>() - 1e-9);
    EXPECT_LT(ci[1].get<double>() - ci[0].get<double>(), 20.0);
    EXPECT_NEAR(c["accuracy"].get<double>(),
                read_json(fs::path(c["dir"].get<std::string>()) / "manifest.json")["metrics"]["accuracy"].get<double>(),
                1e-9)
        << "rank re-evaluates a cell to the figure ptq measured";
    EXPECT_GT(c["logit_sqnr_db"].get<double>(), 0.0);
    EXPECT_EQ(c["logit_sqnr_source"], "rank");
    EXPECT_GT(c["agreement"].get<double>(), 0.5);
    EXPECT_LE(c["agreement"].get<double>(), 1.0);
    EXPECT_EQ(c["fp32_model"], "train");
  }
  EXPECT_TRUE(ranking["best_eligible"].get<bool>());
  EXPECT_TRUE(ranking["candidates"][0]["within_noise_of_best"].get<bool>());
  const std::string md = read_text(out / "best" / "ranking.md");
  for (const char* col : {"| Δ 95% CI |", "| SQNR dB |", "| agree % |", "| p90/p50 |"})
    EXPECT_NE(md.find(col), std::string::npos) << col << "\n" << md;
  EXPECT_TRUE(best["metrics"].contains("logit_sqnr_db"));
  EXPECT_TRUE(best["metrics"].contains("delta_accuracy_low"));
  // A cell below min_logit_sqnr_db is never chosen: with 1000 dB none is eligible, and rank says so.
  const auto strict = read_json(out / "strict" / "ranking.json");
  EXPECT_FALSE(strict["best_eligible"].get<bool>());
  for (const auto& c : strict["candidates"]) {
    EXPECT_FALSE(c["eligible"].get<bool>());
    EXPECT_NE(c["excluded"].get<std::string>().find("< min_logit_sqnr_db 1000.0"), std::string::npos) << c.dump(2);
  }
  // The gate between two cells: a threshold between their SQNRs excludes the lower one, whatever its accuracy,
  // and the other is chosen.
  const auto& hi = first["logit_sqnr_db"].get<double>() > second["logit_sqnr_db"].get<double>() ? first : second;
  const auto& lo = &hi == &first ? second : first;
  ASSERT_GT(hi["logit_sqnr_db"].get<double>() - lo["logit_sqnr_db"].get<double>(), 0.01) << ranking.dump(2);
  const double gate = (hi["logit_sqnr_db"].get<double>() + lo["logit_sqnr_db"].get<double>()) / 2;
  ASSERT_EQ(run("run '" + (dir_ / "pipeline.toml").string() +
                    "' -q --only strict --set nodes.strict.min_logit_sqnr_db=" + std::to_string(gate),
                dir_ / "gate.log"),
            0)
      << read_text(dir_ / "gate.log");
  const auto gated = read_json(out / "strict" / "ranking.json");
  EXPECT_TRUE(gated["best_eligible"].get<bool>()) << gated.dump(2);
  EXPECT_EQ(gated["candidates"][0]["id"], hi["id"]) << gated.dump(2);
  EXPECT_EQ(read_json(out / "strict" / "manifest.json")["best"], hi["id"]);
  for (const auto& c : gated["candidates"])
    if (c["id"] == lo["id"]) {
      EXPECT_FALSE(c["eligible"].get<bool>()) << c.dump(2);
      EXPECT_NE(c["excluded"].get<std::string>().find("< min_logit_sqnr_db"), std::string::npos) << c.dump(2);
    }
  ASSERT_EQ(run("run '" + (dir_ / "pipeline.toml").string() + "' -q --only strict", dir_ / "ungate.log"), 0)
      << read_text(dir_ / "ungate.log");  // back to the file's 1000 dB
  // The run report carries the same columns.
  const std::string report = read_text(out / "report.md");
  for (const char* col : {"| Δ CI |", "| SQNR dB |", "| agree % |"})
    EXPECT_NE(report.find(col), std::string::npos) << col;
  EXPECT_NEAR(best["metrics"]["p50_ms_b1"].get<double>(),
              ranking["candidates"][0]["latency"]["batch_1"]["p50_ms"].get<double>(), 1e-9);

  // `slimpipe bench` on the deployed model: seq defaults to the model's 32 positions; a longer --seq is a
  // one-line error naming the folder.
  const fs::path rt_dir = out / "best" / "runtime";
  ASSERT_EQ(run("bench '" + rt_dir.string() + "' --batch 1 2 --iters 2 --threads 1 --json '" +
                    (dir_ / "bench.json").string() + "'",
                dir_ / "bench.log"),
            0)
      << read_text(dir_ / "bench.log");
  const auto bj = read_json(dir_ / "bench.json");
  ASSERT_EQ(bj["models"].size(), 1u);
  EXPECT_EQ(bj["models"][0]["seq"], 32);
  EXPECT_EQ(bj["models"][0]["precision"], "int8");
  ASSERT_EQ(bj["models"][0]["results"].size(), 2u);
  for (const auto& r : bj["models"][0]["results"]) {
    EXPECT_EQ(r["runs"], 2);
    EXPECT_GT(r["p50_ms"].get<double>(), 0.0);
  }
  EXPECT_NE(run("bench '" + rt_dir.string() + "' --seq 64", dir_ / "bench_bad.log"), 0);
  EXPECT_NE(
      read_text(dir_ / "bench_bad.log").find("--seq 64 exceeds " + rt_dir.string() + "'s max_position_embeddings 32"),
      std::string::npos)
      << read_text(dir_ / "bench_bad.log");

  // objective = "latency": the fastest candidate within the drop first.
  const auto fastest = read_json(out / "fastest" / "ranking.json");
  ASSERT_EQ(fastest["candidates"].size(), 2u);
  EXPECT_EQ(fastest["objective"], "latency");
  EXPECT_LE(fastest["candidates"][0]["latency"]["batch_4"]["p50_ms"].get<double>(),
            fastest["candidates"][1]["latency"]["batch_4"]["p50_ms"].get<double>());
  EXPECT_EQ(fastest["candidates"][0]["latency"]["batch_4"]["runs"], 2);
  EXPECT_EQ(read_json(out / "fastest" / "manifest.json")["best"], fastest["candidates"][0]["id"]);

  // Fallback that can never meet its target stops after fallback_max_sites sites, most sensitive first.
  const auto fb = read_json(out / "fallback" / "ranking.json")["fallback"];
  ASSERT_EQ(fb["fp32_sites"].size(), 3u);
  EXPECT_FALSE(fb["met"].get<bool>());
  const auto cell_metrics = read_json(fs::path(ranking["candidates"][0]["dir"].get<std::string>()) / "metrics.json");
  const auto order = cell_metrics["ptq"]["sensitivity_order"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fb["fp32_sites"][i], order[i]);
  const auto cal = read_json(out / "fallback" / "calibration.json");
  for (const auto& a : cal["activations"])
    for (int i = 0; i < 3; ++i) EXPECT_NE(a["site"], order[i]);
  EXPECT_TRUE(fs::exists(out / "fallback" / "model.int8.onnx"));
  // The fallback model's runtime export is made anew: its fp32 sites are not int8 there, and it is timed.
  const auto rt = read_json(out / "fallback" / "runtime" / "runtime.json");
  const auto cell_rt =
      read_json(fs::path(ranking["candidates"][0]["dir"].get<std::string>()) / "runtime" / "runtime.json");
  for (int i = 0; i < 3; ++i) {
    const std::string site = order[i].get<std::string>();
    EXPECT_TRUE(cell_rt["quant"]["sites"].contains(site)) << site << " is int8 in the cell";
    EXPECT_FALSE(rt["quant"]["sites"].contains(site)) << site << " is fp32 after the fallback";
  }
  EXPECT_GT(fb["latency"]["batch_1"]["p50_ms"].get<double>(), 0.0) << fb.dump(2);

  // Resume: nothing reruns.
  ASSERT_EQ(run("plan '" + (dir_ / "pipeline.toml").string() + "'", dir_ / "plan2.log"), 0);
  EXPECT_NE(read_text(dir_ / "plan2.log").find("0 to run"), std::string::npos) << read_text(dir_ / "plan2.log");
}

TEST_F(PtqPipeline, RankPublishesAScratchExportAsACompletePackageAndReportsTestAfterTheChoice) {
  // Cells without runtime/ (export_formats = ["onnx"]): rank exports the candidates it times itself, and the
  // best's export becomes rank's runtime/, which must be a package like any other (tokenizer, package.json).
  std::string pipeline = kPipeline;
  pipeline = pipeline.substr(0, pipeline.find("[nodes.fallback]"));
  const std::string at = "sensitivity_samples = 64\n";
  pipeline.replace(pipeline.find(at), at.size(), at + "export_formats = [\"onnx\"]\n");
  std::ofstream(dir_ / "scratch.toml") << pipeline;
  ASSERT_EQ(run("run '" + (dir_ / "scratch.toml").string() + "' -q", dir_ / "run.log"), 0)
      << read_text(dir_ / "run.log");
  const fs::path out = dir_ / "out";
  for (const auto& e : fs::directory_iterator(out / "quant")) {
    if (fs::exists(e.path() / "manifest.json")) {
      EXPECT_FALSE(fs::exists(e.path() / "runtime")) << e.path();
    }
  }
  const fs::path rt = out / "best" / "runtime";
  for (const char* f : {"runtime.json", "weights.bin", "vocab.txt", "package.json"})
    EXPECT_TRUE(fs::exists(rt / f)) << rt / f;
  EXPECT_EQ(read_text(rt / "vocab.txt"), read_text(out / "train" / "vocab.txt"));
  const auto package = read_json(rt / "package.json");
  EXPECT_EQ(package["task"], "seq_cls") << package.dump(2);

  // bench takes the rank folder (its runtime/), prints the full path, and the model's own memory, not the CLI's.
  ASSERT_EQ(
      run("bench '" + (out / "best").string() + "' --batch 1 --iters 2 --json '" + (dir_ / "bench.json").string() + "'",
          dir_ / "bench.log"),
      0)
      << read_text(dir_ / "bench.log");
  EXPECT_NE(read_text(dir_ / "bench.log").find("model 1: " + fs::absolute(rt).lexically_normal().string() + "\n"),
            std::string::npos)
      << read_text(dir_ / "bench.log");
  const auto bench = read_json(dir_ / "bench.json");
  EXPECT_EQ(bench["models"][0]["path"], fs::absolute(rt).lexically_normal().string());
  EXPECT_LT(bench["models"][0]["model_peak_bytes"].get<double>(), bench["models"][0]["peak_rss_bytes"].get<double>());
  // A file beside no export is refused with the folders it looks for.
  const fs::path cell_onnx = [&] {
    for (const auto& e : fs::directory_iterator(out / "quant"))
      if (fs::exists(e.path() / "model.int8.onnx")) return e.path() / "model.int8.onnx";
    return fs::path();
  }();
  ASSERT_FALSE(cell_onnx.empty());
  EXPECT_EQ(run("bench '" + cell_onnx.string() + "'", dir_ / "bench_onnx.log"), 2);
  EXPECT_NE(read_text(dir_ / "bench_onnx.log")
                .find("a file, and its folder " + cell_onnx.parent_path().string() + " holds no runtime export"),
            std::string::npos)
      << read_text(dir_ / "bench_onnx.log");

  // The synthetic task has a test split (synthetic_test_size): rank reports it beside dev, after the choice. The
  // same rank without test chooses the same candidate in the same order: test never steers the choice.
  const auto ranking = read_json(out / "best" / "ranking.json");
  ASSERT_TRUE(ranking["test"].is_object()) << ranking.dump(2);
  EXPECT_EQ(ranking["test"]["data"]["source"], "synthetic") << ranking["test"].dump(2);
  ASSERT_TRUE(ranking["test"]["baseline"].is_number()) << ranking["test"].dump(2);
  for (const auto& c : ranking["candidates"]) {
    ASSERT_TRUE(c["test"]["accuracy"].is_number()) << c.dump(2);
    EXPECT_NEAR(c["test"]["delta"].get<double>(),
                c["test"]["accuracy"].get<double>() - ranking["test"]["baseline"].get<double>(), 1e-9);
    EXPECT_EQ(c["test"]["delta_interval"].size(), 2u) << c.dump(2);
  }
  EXPECT_NEAR(read_json(out / "best" / "manifest.json")["metrics"]["test_accuracy"].get<double>(),
              ranking["candidates"][0]["test"]["accuracy"].get<double>(), 1e-9);
  EXPECT_NE(read_text(out / "best" / "ranking.md").find("| test accuracy | Δ test |"), std::string::npos);
  ASSERT_EQ(run("run '" + (dir_ / "scratch.toml").string() +
                    "' -q --set nodes.best.report_test=false --set "
                    "'pipeline.output_dir=\"" +
                    (dir_ / "no_test").string() + "\"'",
                dir_ / "no_test.log"),
            0)
      << read_text(dir_ / "no_test.log");
  const auto without = read_json(dir_ / "no_test" / "best" / "ranking.json");
  EXPECT_TRUE(without["test"].is_null());
  ASSERT_EQ(without["candidates"].size(), ranking["candidates"].size());
  for (std::size_t i = 0; i < ranking["candidates"].size(); ++i)
    EXPECT_EQ(without["candidates"][i]["id"], ranking["candidates"][i]["id"]) << i;
  EXPECT_EQ(without["choice"], ranking["choice"]);
}

TEST_F(PtqPipeline, ListAndScalarTogetherIsAnErrorNamingTheLine) {
  std::ofstream(dir_ / "bad.toml") << kPipeline << "\n[nodes.quant.matrix]\nalgo = [\"mse\"]\n";
  EXPECT_NE(run("validate '" + (dir_ / "bad.toml").string() + "'", dir_ / "bad.log"), 0);
  const std::string log = read_text(dir_ / "bad.log");
  EXPECT_NE(log.find("bad.toml:"), std::string::npos) << log;
  EXPECT_NE(log.find("sets both 'algo_list' and 'algo' (a matrix axis)"), std::string::npos) << log;
}

}  // namespace

namespace {

const char* kComposite = R"(
[pipeline]
name = "composite_test"
output_dir = "out"
threads_per_instance = 1
max_parallel = 2

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 600
synthetic_eval_size = 200
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 4
intermediate_size = 64
max_position_embeddings = 32
num_train_epochs = 2
learning_rate = 3e-3

[nodes.compress]
type = "dynabert+ptq"
inputs = ["train"]
width_mult_list = ["3/4", "1/2"]
num_train_epochs = 1
learning_rate = 2e-3
algo_list = ["abs_max", "KL"]
batch_size_list = [4]
per_device_eval_batch_size = 100

[nodes.rank]
type = "rank"
inputs = ["compress"]
collect = true
)";

}  // namespace

TEST_F(PtqPipeline, DynabertPlusPtqExpandsIntoAPtqGridPerWidth) {
  if (!fs::exists(fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins/libslimpipe_dynabert_ptq.so") ||
      !fs::exists(fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins/libslimpipe_dynabert.so"))
    GTEST_FAIL() << "dynabert or dynabert+ptq plugin is not built (every test program depends on target "
                    "slimpipe_plugins: a build error?)";
  std::ofstream(dir_ / "composite.toml") << kComposite;
  ASSERT_EQ(run("plan '" + (dir_ / "composite.toml").string() + "'", dir_ / "plan.log"), 0)
      << read_text(dir_ / "plan.log");
  const std::string plan = read_text(dir_ / "plan.log");
  EXPECT_NE(plan.find("compress_dynabert "), std::string::npos) << plan;
  for (const char* w : {"width_0.75", "width_0.5"})
    for (const char* a : {"abs_max", "KL"})
      EXPECT_NE(plan.find(std::string("compress@compress_dynabert=") + w + ",algo=" + a + ",batch_size=4,batch_num=1"),
                std::string::npos)
          << plan;
  EXPECT_NE(plan.find("7 to run"), std::string::npos) << plan;

  ASSERT_EQ(run("run '" + (dir_ / "composite.toml").string() + "' -q", dir_ / "run.log"), 0)
      << read_text(dir_ / "run.log");
  const fs::path out = dir_ / "out";
  // learning_rate is the dynabert step's; AdaRound's rate is the ptq step's adaround_learning_rate, at its default.
  EXPECT_DOUBLE_EQ(
      read_json(out / "compress_dynabert" / "width_0.75" / "manifest.json")["params"]["learning_rate"].get<double>(),
      2e-3);
  int cells = 0;
  for (const auto& e : fs::directory_iterator(out / "compress")) {
    if (!fs::exists(e.path() / "manifest.json")) continue;
    ++cells;
    const auto m = read_json(e.path() / "manifest.json");
    EXPECT_FALSE(m["params"].contains("learning_rate")) << e.path();
    EXPECT_DOUBLE_EQ(m["params"]["adaround_learning_rate"].get<double>(), 1e-3) << e.path();
    // The reference of a pruned INT8 model is the unpruned fp32 one.
    EXPECT_TRUE(m["metrics"].contains("origin_accuracy")) << e.path();
    EXPECT_TRUE(m.contains("width"));
  }
  EXPECT_EQ(cells, 4);
  const auto ranking = read_json(out / "rank" / "ranking.json");
  EXPECT_EQ(ranking["candidates"].size(), 4u);
  // Speedups are against the unpruned fp32 model: cell -> its width (input_model) -> train.
  EXPECT_EQ(ranking["bench"]["baseline"]["id"], "train") << ranking["bench"].dump(2);
  // The pruned fp32 widths are evaluated and timed too: the gains of pruning and of quantization read apart.
  int parents = 0;
  for (const auto& m : ranking["models"])
    if (m["role"] == "fp32 parent") {
      ++parents;
      EXPECT_TRUE(m["delta_interval"].is_array()) << m.dump(2);
      EXPECT_GT(m["latency"]["batch_1"]["p50_ms"].get<double>(), 0.0) << m.dump(2);
      // ... and scored on the held-out test split beside the baseline, with Δ and its interval.
      EXPECT_TRUE(m["test"]["accuracy"].is_number()) << m.dump(2);
      EXPECT_TRUE(m["test"]["delta_interval"].is_array()) << m.dump(2);
    } else if (m["role"] == "baseline") {
      EXPECT_TRUE(m["test"]["accuracy"].is_number()) << m.dump(2);
    }
  EXPECT_EQ(parents, 2);
  EXPECT_NE(read_text(out / "rank" / "ranking.md").find("; test "), std::string::npos);
  for (const auto& c : ranking["candidates"])
    EXPECT_NE(c["fp32_model"].get<std::string>().find("compress_dynabert/width_"), std::string::npos) << c.dump(2);
  for (const char* w : {"width_0.75", "width_0.5"})
    EXPECT_EQ(read_json(out / "compress_dynabert" / w / "runtime" / "runtime.json")["precision"], "fp32") << w;
}

TEST_F(PtqPipeline, CompositeRejectsKeysNoStepTakes) {
  std::ofstream(dir_ / "bad.toml")
      << std::string(kComposite).replace(std::string(kComposite).find("algo_list"), 9, "algo_lsit");
  EXPECT_NE(run("validate '" + (dir_ / "bad.toml").string() + "'", dir_ / "bad.log"), 0);
  const std::string log = read_text(dir_ / "bad.log");
  EXPECT_NE(log.find("unknown key 'algo_lsit' in [nodes.compress] (no step of composite 'dynabert+ptq'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("did you mean 'algo_list'"), std::string::npos) << log;
}

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

namespace {

// A pipeline that trains a 1-layer, 32-wide seq_cls model from scratch into <output_dir>/train.
std::string tiny_trained_model_pipeline(const std::string& output_dir, int train_size, int eval_size, int epochs) {
  return "[pipeline]\nname = \"" + output_dir + "\"\noutput_dir = \"" + output_dir +
         "\"\nthreads_per_instance = 1\n\n[task]\ntype = \"seq_cls\"\nsource = \"synthetic\"\n"
         "synthetic_train_size = " +
         std::to_string(train_size) + "\nsynthetic_eval_size = " + std::to_string(eval_size) +
         "\nmax_seq_length = 32\n\n[nodes.train]\ntype = \"finetune\"\ninputs = []\nfrom_scratch = true\n"
         "hidden_size = 32\nnum_hidden_layers = 1\nnum_attention_heads = 2\nintermediate_size = 64\n"
         "max_position_embeddings = 32\nlearning_rate = 3e-3\nnum_train_epochs = " +
         std::to_string(epochs) + "\n";
}

}  // namespace

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

// rank's timings on a loaded machine: busy threads on every core while rank times the fp32 model and an INT8 cell.
// Every figure either holds (p90/p50 <= bench_max_spread, after re-measuring what was spread) or is marked noisy in
// ranking.json and ranking.md; speedups carry a range.
TEST_F(PtqPipeline, TimingsOnALoadedMachineHoldOrAreMarkedNoisy) {
  std::ofstream(dir_ / "loaded.toml") << tiny_trained_model_pipeline("loaded", 300, 100, 1) << R"(
[nodes.quant]
type = "ptq"
inputs = ["train"]
algo_list = ["abs_max"]
batch_size_list = [4]

[nodes.rank]
type = "rank"
inputs = ["quant"]
collect = true
bench_batches = [1, 8]
bench_iters = 4
bench_threads = 1
)";
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
    busy.emplace_back([&stop] {
      volatile std::uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
  const int rc = run("run '" + (dir_ / "loaded.toml").string() + "' -q", dir_ / "loaded.log");
  stop = true;
  for (auto& t : busy) t.join();
  ASSERT_EQ(rc, 0) << read_text(dir_ / "loaded.log");
  const auto ranking = read_json(dir_ / "loaded" / "rank" / "ranking.json");
  const double max_spread = ranking["bench"]["max_spread"].get<double>();
  EXPECT_DOUBLE_EQ(max_spread, 1.3);
  std::vector<nlohmann::json> timed = {ranking["bench"]["baseline"]};
  for (const auto& c : ranking["candidates"]) timed.push_back(c);
  bool any_noisy = false;
  for (const auto& t : timed) {
    const bool noisy = t["latency_noisy"].get<bool>();
    any_noisy = any_noisy || noisy;
    for (const char* b : {"batch_1", "batch_8"}) {
      const auto& lat = t["latency"][b];
      ASSERT_TRUE(lat.is_object()) << t.dump(2);
      const double spread = lat["spread"].get<double>();
      EXPECT_NEAR(spread, lat["p90_ms"].get<double>() / lat["p50_ms"].get<double>(), 1e-9);
      if (!noisy) {
        EXPECT_LE(spread, max_spread) << t.dump(2);
      }
      ASSERT_TRUE(lat["speedup_range"].is_array()) << t.dump(2);
      EXPECT_LE(lat["speedup_range"][0].get<double>(), lat["speedup"].get<double>() + 1e-12);
      EXPECT_GE(lat["speedup_range"][1].get<double>(), lat["speedup"].get<double>() - 1e-12);
    }
  }
  const std::string md = read_text(dir_ / "loaded" / "rank" / "ranking.md");
  // "1.84 noisy" in a row, "(noisy)" on an fp32 model's line, "timing is noisy" for the baseline.
  EXPECT_EQ(std::regex_search(md, std::regex(R"([0-9] noisy \||\(noisy\)|timing is noisy)")), any_noisy) << md;
}
