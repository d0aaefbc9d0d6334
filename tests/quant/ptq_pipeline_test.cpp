// The ptq and rank plugins through the CLI: PaddleNLP's flat lists fan out into parallel cells, every cell is
// evaluated and writes its calibration, sensitivity report and QDQ model, and rank picks the best and falls
// back sites to fp32; rank's own exports, its test-split report and its timings on a loaded machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "quant/ptq_pipeline_support.hpp"

namespace {

namespace fs = std::filesystem;
using ptq_test::kPipeline;
using ptq_test::PtqPipeline;
using ptq_test::read_json;
using ptq_test::read_text;
using ptq_test::run;
using ptq_test::tiny_trained_model_pipeline;

// Every quant cell: evaluated against the fp32 model, with its calibration, sensitivity report and exports.
void check_cells(const fs::path& out, double fp32) {
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
}

// rank's choice and its exports; every candidate timed with the runtime against the fp32 baseline.
void check_best_and_latencies(const fs::path& out, const nlohmann::json& best, const nlohmann::json& ranking) {
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
}

// Noise-aware choice: rank evaluated the fp32 model and both cells on the same 300 examples. Δ against train
// with its paired-bootstrap interval, logit SQNR and agreement against the fp32 model each cell came from.
void check_noise_aware_choice(const fs::path& out, const nlohmann::json& best, const nlohmann::json& ranking,
                              double fp32) {
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
}

// A cell below min_logit_sqnr_db is never chosen: with 1000 dB none is eligible, and rank says so. The gate
// between two cells: a threshold between their SQNRs excludes the lower one, whatever its accuracy, and the
// other is chosen.
void check_logit_sqnr_gate(const fs::path& dir, const fs::path& out, const nlohmann::json& ranking) {
  const auto& first = ranking["candidates"][0];
  const auto& second = ranking["candidates"][1];
  const auto strict = read_json(out / "strict" / "ranking.json");
  EXPECT_FALSE(strict["best_eligible"].get<bool>());
  for (const auto& c : strict["candidates"]) {
    EXPECT_FALSE(c["eligible"].get<bool>());
    EXPECT_NE(c["excluded"].get<std::string>().find("< min_logit_sqnr_db 1000.0"), std::string::npos) << c.dump(2);
  }
  const auto& hi = first["logit_sqnr_db"].get<double>() > second["logit_sqnr_db"].get<double>() ? first : second;
  const auto& lo = &hi == &first ? second : first;
  ASSERT_GT(hi["logit_sqnr_db"].get<double>() - lo["logit_sqnr_db"].get<double>(), 0.01) << ranking.dump(2);
  const double gate = (hi["logit_sqnr_db"].get<double>() + lo["logit_sqnr_db"].get<double>()) / 2;
  ASSERT_EQ(run("run '" + (dir / "pipeline.toml").string() +
                    "' -q --only strict --set nodes.strict.min_logit_sqnr_db=" + std::to_string(gate),
                dir / "gate.log"),
            0)
      << read_text(dir / "gate.log");
  const auto gated = read_json(out / "strict" / "ranking.json");
  EXPECT_TRUE(gated["best_eligible"].get<bool>()) << gated.dump(2);
  EXPECT_EQ(gated["candidates"][0]["id"], hi["id"]) << gated.dump(2);
  EXPECT_EQ(read_json(out / "strict" / "manifest.json")["best"], hi["id"]);
  for (const auto& c : gated["candidates"])
    if (c["id"] == lo["id"]) {
      EXPECT_FALSE(c["eligible"].get<bool>()) << c.dump(2);
      EXPECT_NE(c["excluded"].get<std::string>().find("< min_logit_sqnr_db"), std::string::npos) << c.dump(2);
    }
  ASSERT_EQ(run("run '" + (dir / "pipeline.toml").string() + "' -q --only strict", dir / "ungate.log"), 0)
      << read_text(dir / "ungate.log");  // back to the file's 1000 dB
}

// The run report carries the same columns. `slimpipe bench` on the deployed model: seq defaults to the model's
// 32 positions; a longer --seq is a one-line error naming the folder.
void check_report_and_bench(const fs::path& dir, const fs::path& out, const nlohmann::json& best,
                            const nlohmann::json& ranking) {
  const std::string report = read_text(out / "report.md");
  for (const char* col : {"| Δ CI |", "| SQNR dB |", "| agree % |"})
    EXPECT_NE(report.find(col), std::string::npos) << col;
  EXPECT_NEAR(best["metrics"]["p50_ms_b1"].get<double>(),
              ranking["candidates"][0]["latency"]["batch_1"]["p50_ms"].get<double>(), 1e-9);
  const fs::path rt_dir = out / "best" / "runtime";
  ASSERT_EQ(run("bench '" + rt_dir.string() + "' --batch 1 2 --iters 2 --threads 1 --json '" +
                    (dir / "bench.json").string() + "'",
                dir / "bench.log"),
            0)
      << read_text(dir / "bench.log");
  const auto bj = read_json(dir / "bench.json");
  ASSERT_EQ(bj["models"].size(), 1u);
  EXPECT_EQ(bj["models"][0]["seq"], 32);
  EXPECT_EQ(bj["models"][0]["precision"], "int8");
  ASSERT_EQ(bj["models"][0]["results"].size(), 2u);
  for (const auto& r : bj["models"][0]["results"]) {
    EXPECT_EQ(r["runs"], 2);
    EXPECT_GT(r["p50_ms"].get<double>(), 0.0);
  }
  EXPECT_NE(run("bench '" + rt_dir.string() + "' --seq 64", dir / "bench_bad.log"), 0);
  EXPECT_NE(
      read_text(dir / "bench_bad.log").find("--seq 64 exceeds " + rt_dir.string() + "'s max_position_embeddings 32"),
      std::string::npos)
      << read_text(dir / "bench_bad.log");
}

// objective = "latency": the fastest candidate within the drop first.
void check_fastest(const fs::path& out) {
  const auto fastest = read_json(out / "fastest" / "ranking.json");
  ASSERT_EQ(fastest["candidates"].size(), 2u);
  EXPECT_EQ(fastest["objective"], "latency");
  EXPECT_LE(fastest["candidates"][0]["latency"]["batch_4"]["p50_ms"].get<double>(),
            fastest["candidates"][1]["latency"]["batch_4"]["p50_ms"].get<double>());
  EXPECT_EQ(fastest["candidates"][0]["latency"]["batch_4"]["runs"], 2);
  EXPECT_EQ(read_json(out / "fastest" / "manifest.json")["best"], fastest["candidates"][0]["id"]);
}

// A fallback that can never meet its target stops after max_sites sites, most sensitive first, and its model is
// measured like a candidate; one whose input is already within its target ships the input as it is.
void check_fallback(const fs::path& dir, const fs::path& out, const nlohmann::json& ranking) {
  const auto fb = read_json(out / "fallback" / "fallback.json");
  EXPECT_EQ(fb["from"], "best") << fb.dump(2);
  ASSERT_EQ(fb["fp32_sites"].size(), 3u);
  EXPECT_FALSE(fb["met"].get<bool>());
  const fs::path cell = ranking["candidates"][0]["dir"].get<std::string>();
  const auto order = read_json(cell / "metrics.json")["ptq"]["sensitivity_order"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fb["fp32_sites"][i], order[i]);
  const auto cal = read_json(out / "fallback" / "calibration.json");
  for (const auto& a : cal["activations"])
    for (int i = 0; i < 3; ++i) EXPECT_NE(a["site"], order[i]);
  EXPECT_TRUE(fs::exists(out / "fallback" / "model.int8.onnx"));
  // The fallback model's runtime export is made anew: its fp32 sites are not int8 there, and it is timed.
  const auto rt = read_json(out / "fallback" / "runtime" / "runtime.json");
  const auto cell_rt = read_json(cell / "runtime" / "runtime.json");
  for (int i = 0; i < 3; ++i) {
    const std::string site = order[i].get<std::string>();
    EXPECT_TRUE(cell_rt["quant"]["sites"].contains(site)) << site << " is int8 in the cell";
    EXPECT_FALSE(rt["quant"]["sites"].contains(site)) << site << " is fp32 after the fallback";
  }
  const auto manifest = read_json(out / "fallback" / "manifest.json");
  EXPECT_EQ(manifest["kind"], "quantized_model");
  EXPECT_EQ(manifest["model"]["parameters"]["fallback_fp32_sites"], fb["fp32_sites"]);
  EXPECT_GT(manifest["metrics"]["p50_ms_b1"].get<double>(), 0.0) << manifest.dump(2);
  EXPECT_TRUE(manifest["metrics"].contains("logit_sqnr_db")) << manifest.dump(2);
  EXPECT_TRUE(manifest["assessment"]["self"].contains("metric")) << manifest.dump(2);
  EXPECT_EQ(manifest["assessment"]["baseline"], "train");
  // Not needed: the input's model, published as it is.
  const auto keep = read_json(out / "keep" / "fallback.json");
  EXPECT_FALSE(keep["needed"].get<bool>()) << keep.dump(2);
  EXPECT_EQ(read_text(out / "keep" / "calibration.json"), read_text(out / "best" / "calibration.json"));
  // rank no longer takes the fallback's parameters: validate says where they went.
  std::string old = kPipeline;
  const std::string at = "max_metric_drop = 100.0\n";
  old.replace(old.find(at), at.size(), at + "fallback_until_drop_below = 0.5\n");
  std::ofstream(dir / "old.toml") << old;
  EXPECT_EQ(run("validate '" + (dir / "old.toml").string() + "'", dir / "old.log"), 2);
  const std::string log = read_text(dir / "old.log");
  EXPECT_NE(log.find("'fallback_until_drop_below' in [nodes.best] is no longer a parameter of plugin 'rank'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("type = \"fallback\""), std::string::npos) << log;
}

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
  ASSERT_NO_FATAL_FAILURE(check_cells(out, fp32));

  const auto best = read_json(out / "best" / "manifest.json");
  const auto ranking = read_json(out / "best" / "ranking.json");
  ASSERT_NO_FATAL_FAILURE(check_best_and_latencies(out, best, ranking));
  ASSERT_NO_FATAL_FAILURE(check_noise_aware_choice(out, best, ranking, fp32));
  ASSERT_NO_FATAL_FAILURE(check_logit_sqnr_gate(dir_, out, ranking));
  ASSERT_NO_FATAL_FAILURE(check_report_and_bench(dir_, out, best, ranking));
  ASSERT_NO_FATAL_FAILURE(check_fastest(out));
  ASSERT_NO_FATAL_FAILURE(check_fallback(dir_, out, ranking));

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

}  // namespace
