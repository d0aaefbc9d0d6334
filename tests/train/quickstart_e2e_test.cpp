// End to end through the CLI: pipelines/quickstart.toml trains a model from scratch on the synthetic
// seq_cls task and evaluates it; the accuracy must be far above chance (1/3). Its report.html is then checked
// in a headless browser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slimpipe/data/synthetic.hpp"
#include "slimpipe_runtime/classifier.hpp"
#include "train/cli_pipeline_support.hpp"

namespace fs = std::filesystem;
using cli_pipeline::read_json;

namespace {

// The probe page of check_report_in_browser: loads report.html in a 1,280 px frame and writes its measures as
// JSON into <pre id="result">.
const char* const kProbePage = R"(<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="report.html" style="width:1280px;height:900px;border:0"></iframe><pre id="result"></pre>
<script>
document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const r = {scrollWidth: d.documentElement.scrollWidth, clientWidth: d.documentElement.clientWidth, charts: [], cutTables: 0};
  for (const w of d.querySelectorAll('.wide')) if (w.scrollWidth > w.clientWidth + 1) r.cutTables++;
  for (const svg of d.querySelectorAll('svg.chart')) {
    const area = svg.querySelector('.plot-area').getBoundingClientRect();
    const c = {title: svg.getAttribute('aria-label'), marks: 0, outside: 0, chosen: 0, baseline: 0, bars: svg.querySelectorAll('g.bar').length};
    for (const m of svg.querySelectorAll('g.mark')) {
      const b = m.getBoundingClientRect();
      c.marks++;
      if (b.left < area.left - 1 || b.right > area.right + 1 || b.top < area.top - 1 || b.bottom > area.bottom + 1) c.outside++;
      if (m.classList.contains('chosen')) c.chosen++;
      if (m.classList.contains('baseline')) c.baseline++;
    }
    r.charts.push(c);
  }
  document.getElementById('result').textContent = JSON.stringify(r);
});
</script></body></html>)";

// The train and evaluate nodes' artifacts; returns the evaluated accuracy (a percentage).
double check_train_and_evaluate(const fs::path& out) {
  const auto trained = read_json(out / "train" / "manifest.json");
  EXPECT_EQ(trained["kind"], "model");
  EXPECT_GT(trained["param_count"].get<std::int64_t>(), 50000);
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "metrics.json"})
    EXPECT_TRUE(fs::exists(out / "train" / f)) << f;

  const auto evaluation = read_json(out / "evaluate" / "manifest.json");
  EXPECT_EQ(evaluation["kind"], "evaluation");
  const double accuracy = evaluation["metrics"]["accuracy"].get<double>();  // a percentage
  EXPECT_GT(accuracy, 45.0) << "chance is 33%";
  // The evaluate node re-scores the saved model: it must agree with the best state training kept.
  EXPECT_NEAR(accuracy, trained["metrics"]["accuracy"].get<double>(), 1e-9);
  EXPECT_TRUE(fs::exists(out / "evaluate" / "metrics.json"));
  EXPECT_FALSE(fs::exists(out / "evaluate" / "model.safetensors"));
  return accuracy;
}

// prune -> the 6-cell PTQ grid -> rank: every cell evaluated, the best one's files in rank/.
void check_ranking(const fs::path& out, const nlohmann::json& ranking, double accuracy) {
  ASSERT_EQ(ranking["candidates"].size(), 6u);
  for (const auto& c : ranking["candidates"]) {
    EXPECT_GT(c["accuracy"].get<double>(), 40.0) << c["id"];
    EXPECT_NEAR(c["reference"].get<double>(), accuracy, 1e-9) << "the reference is the unpruned fp32 model";
    // ... and timed with the runtime, against the unpruned fp32 model.
    EXPECT_GT(c["latency"]["batch_1"]["speedup"].get<double>(), 0.0) << c.dump(2);
  }
  EXPECT_EQ(ranking["bench"]["baseline"]["id"], "train");
  for (const char* f : {"model.int8.onnx", "calibration.json", "sensitivity.csv", "ranking.md", "config.json",
                        "runtime/runtime.json", "runtime/weights.bin"})
    EXPECT_TRUE(fs::exists(out / "rank" / f)) << f;
}

// The packages classify the quickstart's 1,000 dev sentences (synthetic_seq_cls, seed synthetic_seed + 1) as the
// evaluations did: the fp32 model's exactly, the shipped INT8 one within 0.1 of its fake-quant evaluation.
void check_packages(const fs::path& out, double accuracy) {
  const auto dev = slimpipe::data::synthetic_seq_cls(1000, 2);
  std::vector<std::string> texts;
  for (const auto& ex : dev.examples) texts.push_back(ex.text_a);
  auto accuracy_of = [&](const fs::path& package) {
    auto clf = slimpipe_runtime::Classifier::load(package);
    const auto predicted = clf.predict(texts, 32);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i].label_id == dev.examples[i].label;
    return 100.0 * static_cast<double>(correct) / static_cast<double>(texts.size());
  };
  const double fp32_package = accuracy_of(out / "train" / "runtime");
  EXPECT_NEAR(fp32_package, accuracy, 1e-9);
  // rank's artifact is the chosen cell: its manifest has the figure.
  const double shipped = read_json(out / "rank" / "manifest.json")["metrics"]["accuracy"].get<double>();
  const double int8_package = accuracy_of(out / "rank" / "runtime");
  EXPECT_NEAR(int8_package, shipped, 0.1);
  std::printf("Classifier on the quickstart's packages: fp32 %.2f (evaluate %.2f), INT8 %.2f (rank %.2f)\n",
              fp32_package, accuracy, int8_package, shipped);
}

// The run report, written at the end of the run: every artifact, the rank's best marked, Δ against the
// unpruned model, latencies from the ranking.
void check_summary(const fs::path& out, const nlohmann::json& ranking, double accuracy) {
  for (const char* f : {"report.md", "report.html", "summary.csv"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["pipeline"], "quickstart");
  std::size_t bests = 0;
  for (const auto& row : summary["rows"]) {
    EXPECT_EQ(row["status"], "done") << row.dump();
    if (row["id"] == ranking["best"]) {
      ++bests;
      EXPECT_TRUE(row["best"].get<bool>());
      EXPECT_EQ(row["baseline"], "train");
      EXPECT_NEAR(row["delta"].get<double>(), row["metric"].get<double>() - accuracy, 1e-9);
      EXPECT_GT(row["latency"]["batch_32"]["speedup"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(bests, 1u);
  EXPECT_EQ(summary["rows"].size(), 10u) << "train, evaluate, prune/width_0.75, 6 cells, rank";
}

// report.html in a real browser (Debian's headless chromium, installed by scripts/setup.sh: missing, this
// fails rather than skips). A probe page loads the report in a 1,280 px frame and measures it: the page must
// not overflow horizontally, every chart's markers must lie inside its plot area, the latency and size plots
// must mark the chosen model, and nothing may reach the console. The screenshot stays in the run folder.
void check_report_in_browser(const fs::path& out) {
  ASSERT_EQ(std::system("command -v chromium > /dev/null"), 0) << "chromium is not installed (bash scripts/setup.sh)";
  std::ofstream(out / "probe.html") << kProbePage;
  const std::string browser =
      "chromium --headless --no-sandbox --disable-gpu --allow-file-access-from-files "
      "--enable-logging=stderr --v=0 --virtual-time-budget=10000 ";
  const fs::path dom = out / "probe.dom", console = out / "probe.console";
  ASSERT_EQ(std::system((browser + "--dump-dom 'file://" + (out / "probe.html").string() + "' > '" + dom.string() +
                         "' 2> '" + console.string() + "'")
                            .c_str()),
            0);
  std::ifstream dom_in(dom), console_in(console);
  const std::string dom_text((std::istreambuf_iterator<char>(dom_in)), std::istreambuf_iterator<char>());
  const std::string console_text((std::istreambuf_iterator<char>(console_in)), std::istreambuf_iterator<char>());
  const auto at = dom_text.find("<pre id=\"result\">"), end = dom_text.find("</pre>", at);
  ASSERT_NE(at, std::string::npos) << dom_text;
  const auto probe = nlohmann::json::parse(dom_text.substr(at + 17, end - at - 17));
  EXPECT_LE(probe["scrollWidth"].get<int>(), 1280) << "horizontal overflow at 1,280 px: " << probe.dump();
  EXPECT_EQ(probe["cutTables"], 0) << "a table wider than the page at 1,280 px: " << probe.dump();
  EXPECT_EQ(console_text.find("CONSOLE"), std::string::npos) << console_text;
  int scatter = 0, sensitivity = 0;
  for (const auto& c : probe["charts"]) {
    EXPECT_EQ(c["outside"], 0) << c.dump();
    const std::string title = c["title"];
    if (title.find(" vs latency, batch ") != std::string::npos || title.find(" vs size") != std::string::npos) {
      ++scatter;
      EXPECT_EQ(c["chosen"], 1) << c.dump();
      EXPECT_EQ(c["baseline"], 1) << c.dump();
      EXPECT_EQ(c["marks"], 8) << "train, width 0.75, 6 cells: " << c.dump();
    }
    if (title.find("Site sensitivity") != std::string::npos) sensitivity += c["bars"].get<int>() > 0;
  }
  EXPECT_EQ(scatter, 3) << "latency at batch 1 and 32, and size: " << probe.dump();
  EXPECT_EQ(sensitivity, 1) << probe.dump();
  ASSERT_EQ(
      std::system((browser + "--hide-scrollbars --window-size=1280,2400 --screenshot='" +
                   (out / "report.png").string() + "' 'file://" + (out / "report.html").string() + "' > /dev/null 2>&1")
                      .c_str()),
      0);
  EXPECT_GT(fs::file_size(out / "report.png"), 10000u);
}

}  // namespace

TEST(Quickstart, TrainsFromScratchAndEvaluatesFarAboveChance) {
  if (const std::string missing = cli_pipeline::missing_plugin(
          {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_evaluate.so",
           "libslimpipe_dynabert.so", "libslimpipe_ptq.so", "libslimpipe_rank.so"});
      !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const fs::path out = fs::temp_directory_path() / ("slimpipe_quickstart_" + std::to_string(::getpid()));
  fs::remove_all(out);
  // 2 epochs instead of 8 keep the test well under a minute on an idle machine (the accuracy bar allows
  // for it: about 50% after 250 steps); one thread avoids OpenMP spin-waiting when the cores are shared.
  const std::string cmd = std::string(SLIMPIPE_CLI) + " run " + SLIMPIPE_SOURCE_DIR + "/pipelines/quickstart.toml" +
                          " --set pipeline.output_dir=" + out.string() +
                          " --set nodes.train.num_train_epochs=2 --set pipeline.threads_per_instance=1 -q > " +
                          (out.string() + ".log") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(out.string() + ".log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << cmd << "\n" << log_text;
  const double accuracy = check_train_and_evaluate(out);

  // prune -> the 6-cell PTQ grid -> rank: every cell evaluated, the best one's files in rank/.
  const auto ranking = read_json(out / "rank" / "ranking.json");
  ASSERT_NO_FATAL_FAILURE(check_ranking(out, ranking, accuracy));
  check_packages(out, accuracy);
  check_summary(out, ranking, accuracy);
  ASSERT_NO_FATAL_FAILURE(check_report_in_browser(out));
  fs::remove_all(out);
  fs::remove(out.string() + ".log");
}
