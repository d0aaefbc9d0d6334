// docs/errors.md lists the errors a user can meet: what was wrong, the message, the exit code. This test
// reproduces every row through the CLI and checks the message and the exit code, so the page cannot drift
// from the code; a row without a reproduction here, or a reproduction without a row, fails too.
//
// In the page's message column, `<dir>` stands for the folder the command ran in and `…` for any text.
// SLIMPIPE_ERRORS_DUMP=1 prints what every case printed (to write a new row).
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <regex>

#include "core/test_util.hpp"
#include "errors/errors_doc_page.hpp"

namespace fs = std::filesystem;
using errors_doc::line_matches;
using errors_doc::replace_all;
using errors_doc::Row;
using testutil::read_file;
using testutil::run_command;
using testutil::write_file;

namespace {

const std::string kCli = SLIMPIPE_CLI;
const std::string kTestPlugins = std::string(" --plugin-path ") + SLIMPIPE_TEST_PLUGIN_DIR;

// A tiny fine-tuned model (seq_cls, synthetic data), trained once for the model and checkpoint rows.
const fs::path& tiny_model() {
  static const fs::path dir = [] {
    fs::path d = testutil::temp_dir("errors-model");
    write_file(d / "train.toml", R"([pipeline]
output_dir = "out"
threads_per_instance = 1
[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 64
synthetic_eval_size = 32
max_seq_length = 32
[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 16
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 32
max_position_embeddings = 32
num_train_epochs = 1
per_device_train_batch_size = 32
)");
    auto r = run_command(kCli + " run " + (d / "train.toml").string() + " -q");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return d / "out" / "train";
  }();
  return dir;
}

// An evaluate pipeline on the model folder `model` (relative to the pipeline).
const char* kEvalPipeline = R"([pipeline]
output_dir = "out"
threads_per_instance = 1
[model]
path = "model"
[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 64
synthetic_eval_size = 32
max_seq_length = 32
[nodes.eval]
type = "evaluate"
inputs = ["model"]
)";

void copy_model(const fs::path& dir) {
  fs::create_directories(dir / "model");
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt"})
    fs::copy_file(tiny_model() / f, dir / "model" / f, fs::copy_options::overwrite_existing);
}

void edit_config(const fs::path& dir, const std::string& key, const std::string& value) {
  std::string cfg = read_file(dir / "model" / "config.json");
  std::regex field("\"" + key + "\"\\s*:\\s*[^,}\\n]+");
  write_file(dir / "model" / "config.json", std::regex_replace(cfg, field, "\"" + key + "\": " + value));
}

// A pipeline with one real node (evaluate on the tiny model), for pipeline-file rows; `extra` is appended.
std::string eval_pipeline(const fs::path& dir, const std::string& extra = "") {
  copy_model(dir);
  write_file(dir / "p.toml", kEvalPipeline + extra);
  return "p.toml";
}

// A seq_cls pipeline reading data files from the folder.
std::string data_pipeline(const fs::path& dir, const std::string& train_text) {
  copy_model(dir);
  write_file(dir / "train.tsv", train_text);
  write_file(dir / "dev.tsv", "sentence\tlabel\ngood\t1\nbad\t0\n");
  write_file(dir / "p.toml", R"([pipeline]
output_dir = "out"
[model]
path = "model"
[task]
type = "seq_cls"
train = "train.tsv"
eval = "dev.tsv"
max_seq_length = 32
[nodes.eval]
type = "evaluate"
inputs = ["model"]
)");
  return kCli + " run p.toml -q";
}

std::string sleep_pipeline(const fs::path& dir, int sleep_ms) {
  write_file(dir / "model" / "config.json", "{}");
  write_file(dir / "s.toml",
             "[pipeline]\noutput_dir = \"out\"\n[model]\npath = \"model\"\n[nodes.cell]\n"
             "type = \"sleep_record\"\ninputs = [\"model\"]\nrecord = \"record.txt\"\nsleep_ms = " +
                 std::to_string(sleep_ms) + "\n");
  return kCli + kTestPlugins + " run s.toml -q";
}

using MakeCase = std::function<std::string(const fs::path&)>;  // writes files into the folder, returns the command

// The plugin folder rows: each command lists the plugins of ./plugins, which holds one unusable file.
void plugin_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["plugin-not-a-library"] = [=](const fs::path& d) {
    write_file(d / "plugins" / "libbroken.so", "not an ELF file");
    return S + " --plugin-path plugins plugins";
  };
  c["plugin-other-build"] = [=](const fs::path& d) {
    fs::create_directories(d / "plugins");
    fs::copy_file(fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_bad_fingerprint.so",
                  d / "plugins" / "libshout.so");
    return S + " --plugin-path plugins plugins";
  };
  c["plugin-no-section"] = [=](const fs::path& d) {
    fs::create_directories(d / "plugins");
    fs::copy_file(fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_not_a_plugin.so",
                  d / "plugins" / "libhelper.so");
    return S + " --plugin-path plugins plugins";
  };
  c["plugin-symlink-loop"] = [=](const fs::path& d) {
    fs::create_directories(d / "plugins");
    fs::create_symlink("loop", d / "plugins" / "loop");
    return S + " --plugin-path plugins plugins";
  };
}

// The command line rows.
void cli_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["cli-unknown-command"] = [=](const fs::path&) { return S + " nosuch"; };
  c["cli-unknown-option"] = [=](const fs::path& d) { return S + " plan " + eval_pipeline(d) + " --bogus"; };
  c["cli-pipeline-missing"] = [=](const fs::path&) { return S + " run nosuch.toml"; };
  c["cli-pipeline-is-directory"] = [=](const fs::path&) { return S + " validate ."; };
  c["cli-set-without-equals"] = [=](const fs::path& d) { return S + " plan " + eval_pipeline(d) + " --set foo"; };
  c["cli-set-unknown-key"] = [=](const fs::path& d) {
    return S + " plan " + eval_pipeline(d) + " --set pipeline.bogus=1";
  };
  c["cli-selector-unknown"] = [=](const fs::path& d) { return S + " plan " + eval_pipeline(d) + " --force evl"; };
  c["cli-max-parallel-range"] = [=](const fs::path& d) { return S + " run " + eval_pipeline(d) + " --max-parallel 0"; };
  c["cli-plugin-unknown"] = [=](const fs::path&) { return S + " plugins show evalute"; };
}

// The pipeline file rows: syntax, keys, nodes, matrices.
void pipeline_file_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["toml-syntax"] = [=](const fs::path& d) {
    write_file(d / "p.toml", "[pipeline\n");
    return S + " validate p.toml";
  };
  c["pipeline-unknown-key"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d, "[nodes.eval.extra]\n") + " --set pipeline.max_paralel=2";
  };
  c["pipeline-no-nodes"] = [=](const fs::path& d) {
    write_file(d / "p.toml", "[pipeline]\noutput_dir = \"out\"\n");
    return S + " validate p.toml";
  };
  c["pipeline-max-parallel-range"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d) + " --set pipeline.max_parallel=100000";
  };
  c["pipeline-device-cuda"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d) + " --set pipeline.device=cuda";
  };
  c["pipeline-env-undefined"] = [=](const fs::path& d) {
    return "env -u SLIMPIPE_NO_SUCH_VAR " + S + " validate " + eval_pipeline(d) +
           " --set 'pipeline.output_dir=${SLIMPIPE_NO_SUCH_VAR}/out'";
  };
  c["pipeline-key-too-deep"] = [=](const fs::path& d) {
    std::string key = "pipeline";
    for (int i = 0; i < 10000; ++i) key += ".k";
    write_file(d / "p.toml", key + " = 1\n");
    return S + " validate p.toml";
  };
  c["node-unknown-plugin"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d, "[nodes.q]\ntype = \"pqt\"\ninputs = [\"model\"]\n");
  };
  c["node-unknown-parameter"] = [=](const fs::path& d) {
    return S + " validate " +
           eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"model\"]\nalgo_lst = [\"KL\"]\n");
  };
  c["node-parameter-type"] = [=](const fs::path& d) {
    return S + " validate " +
           eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"model\"]\nbatch_num = \"two\"\n");
  };
  c["node-parameter-choice"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"model\"]\nalgo = \"kl\"\n");
  };
  c["node-ptq-min-max"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"model\"]\nalgo = \"min_max\"\n");
  };
  c["node-unknown-input"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"evl\"]\n");
  };
  c["node-cycle"] = [=](const fs::path& d) {
    return S + " validate " +
           eval_pipeline(d,
                         "[nodes.a]\ntype = \"ptq\"\ninputs = [\"b\"]\n[nodes.b]\ntype = \"ptq\"\ninputs = [\"a\"]\n");
  };
  c["matrix-empty-axis"] = [=](const fs::path& d) {
    return S + " validate " +
           eval_pipeline(d, "[nodes.q]\ntype = \"ptq\"\ninputs = [\"model\"]\n[nodes.q.matrix]\nalgo = []\n");
  };
  c["task-unknown-type"] = [=](const fs::path& d) {
    return S + " validate " + eval_pipeline(d) + " --set task.type=seq_clf";
  };
}

// The data file rows, and those of the test split.
void data_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["data-file-missing"] = [=](const fs::path& d) {
    data_pipeline(d, "");
    fs::remove(d / "train.tsv");
    return S + " run p.toml -q";
  };
  c["data-file-is-directory"] = [=](const fs::path& d) {
    data_pipeline(d, "");
    fs::remove(d / "train.tsv");
    fs::create_directory(d / "train.tsv");
    return S + " run p.toml -q";
  };
  c["data-invalid-utf8"] = [=](const fs::path& d) {
    return data_pipeline(d,
                         "sentence\tlabel\ngood\t1\nba\xff"
                         "d\t0\n");
  };
  c["data-nul-byte"] = [=](const fs::path& d) {
    return data_pipeline(d, std::string("sentence\tlabel\ngood\t1\nba\0d\t0\n", 27));
  };
  c["data-missing-column"] = [=](const fs::path& d) { return data_pipeline(d, "sentence\tlabel\ngood\t1\nbad\n"); };
  // --- the test split
  const std::string two_rows = "sentence\tlabel\ngood\t1\nbad\t0\n";
  c["task-test-from-needs-amount"] = [=](const fs::path& d) {
    return data_pipeline(d, two_rows) + " --set task.test_from=eval";
  };
  c["task-test-and-test-from"] = [=](const fs::path& d) {
    write_file(d / "test.tsv", two_rows);
    return data_pipeline(d, two_rows) + " --set task.test=test.tsv --set task.test_from=eval --set task.test_size=1";
  };
  c["task-eval-and-eval-from"] = [=](const fs::path& d) {
    return data_pipeline(d, two_rows) + " --set task.eval_from=train --set task.eval_size=1";
  };
  c["task-test-carve-empties"] = [=](const fs::path& d) {
    return data_pipeline(d, two_rows) + " --set task.test_from=eval --set task.test_size=2";
  };
  // Three labels in train, as the tiny model has, so the evaluation gets as far as the test split.
  const std::string three_labels = two_rows + "fine\t2\n";
  c["task-test-split-missing"] = [=](const fs::path& d) {
    return data_pipeline(d, three_labels) + " --set nodes.eval.split=test";
  };
  c["task-test-file-broken"] = [=](const fs::path& d) {
    write_file(d / "test.tsv", "sentence\tlabel\ngood\t1\nbad\n");
    return data_pipeline(d, three_labels) + " --set task.test=test.tsv --set nodes.eval.split=test";
  };
}

// The model folder and checkpoint rows.
void model_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["model-folder-missing"] = [=](const fs::path& d) {
    eval_pipeline(d);
    fs::remove_all(d / "model");
    return S + " run p.toml -q";
  };
  c["model-config-missing"] = [=](const fs::path& d) {
    eval_pipeline(d);
    fs::remove(d / "model" / "config.json");
    return S + " run p.toml -q";
  };
  c["model-config-not-json"] = [=](const fs::path& d) {
    eval_pipeline(d);
    write_file(d / "model" / "config.json", "{\"hidden_size\": 16,");
    return S + " run p.toml -q";
  };
  c["model-config-too-deep"] = [=](const fs::path& d) {
    eval_pipeline(d);
    write_file(d / "model" / "config.json", "{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
    return S + " run p.toml -q";
  };
  c["checkpoint-unused-tensor"] = [=](const fs::path& d) {
    eval_pipeline(d);
    edit_config(d, "num_hidden_layers", "1");
    return S + " run p.toml -q";
  };
  c["checkpoint-missing-tensor"] = [=](const fs::path& d) {
    eval_pipeline(d);
    edit_config(d, "num_hidden_layers", "3");
    return S + " run p.toml -q";
  };
  c["checkpoint-shape-mismatch"] = [=](const fs::path& d) {
    eval_pipeline(d);
    edit_config(d, "intermediate_size", "48");
    return S + " run p.toml -q";
  };
  c["vocab-larger-than-config"] = [=](const fs::path& d) {
    eval_pipeline(d);
    std::string v = read_file(d / "model" / "vocab.txt");
    for (int i = 0; i < 5000; ++i) v += "extra" + std::to_string(i) + "\n";
    write_file(d / "model" / "vocab.txt", v);
    return S + " run p.toml -q";
  };
}

// The run folder rows.
void run_folder_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["run-folder-in-use"] = [=](const fs::path& d) {
    const std::string first = sleep_pipeline(d, 4000);
    return "(" + first + " &) ; sleep 1.5; " + first;
  };
  c["verify-damaged"] = [=](const fs::path& d) {
    auto r = run_command("cd '" + d.string() + "' && " + sleep_pipeline(d, 1));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::ofstream(d / "out" / "cell" / "out.txt", std::ios::app) << "tampered";
    return S + " verify out";
  };
  c["report-not-a-run"] = [=](const fs::path& d) {
    fs::create_directories(d / "empty");
    return S + " report empty";
  };
}

// The shared run folder rows (docs/scale-out.md) and slimpipe launch's (docs/training.md).
void shared_folder_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli + kTestPlugins;
  c["run-on-shared-folder"] = [=](const fs::path& d) {
    sleep_pipeline(d, 4000);
    return "(" + S + " worker s.toml > w.log 2>&1 &) ; sleep 1.5; " + S + " run s.toml -q";
  };
  c["run-instance-input-missing"] = [=](const fs::path& d) {
    sleep_pipeline(d, 1);
    std::ofstream(d / "s.toml", std::ios::app) << "[nodes.after]\ntype = \"sleep_record\"\ninputs = [\"cell\"]\n";
    return S + " run-instance s.toml after";
  };
  c["claim-timeout-bad"] = [=](const fs::path& d) {
    return sleep_pipeline(d, 1), S + " worker s.toml --claim-timeout soon";
  };
  c["executor-unknown"] = [=](const fs::path& d) { return sleep_pipeline(d, 1), S + " run s.toml --executor k8s"; };
  c["launch-bad-nproc"] = [=](const fs::path&) { return kCli + " launch --nproc 0 -- true"; };
  c["launch-no-command"] = [=](const fs::path&) { return kCli + " launch --nproc 2"; };
  c["launch-rank-failed"] = [=](const fs::path&) { return kCli + " launch --nproc 2 -- sh -c 'test \"$RANK\" = 0'"; };
}

// The compress rows.
void compress_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["compress-missing-flags"] = [=](const fs::path&) { return S + " compress --task seq_cls"; };
  c["compress-bad-strategy"] = [=](const fs::path&) {
    return S + " compress --strategy prune --task seq_cls --model_name_or_path m --output_dir o";
  };
  c["compress-no-dev-data"] = [=](const fs::path& d) {
    copy_model(d);
    return S + " compress --strategy ptq --task seq_cls --model_name_or_path model --output_dir o --plan";
  };
  c["compress-hub-name"] = [=](const fs::path&) {
    return S +
           " compress --task seq_cls --model_name_or_path ernie-3.0-medium-zh --train_file t.tsv --eval_file d.tsv "
           "--output_dir o --plan";
  };
  c["compress-unknown-flag"] = [=](const fs::path& d) {
    copy_model(d);
    return S +
           " compress --strategy ptq --task seq_cls --source synthetic --model_name_or_path model --output_dir o "
           "--algo_lst KL";
  };
  c["compress-bad-algo"] = [=](const fs::path& d) {
    copy_model(d);
    return S +
           " compress --strategy ptq --task seq_cls --source synthetic --model_name_or_path model --output_dir o "
           "--algo_list kl";
  };
  c["compress-min-max"] = [=](const fs::path& d) {
    copy_model(d);
    return S +
           " compress --strategy ptq --task seq_cls --source synthetic --model_name_or_path model --output_dir o "
           "--algo_list KL min_max --batch_size_list 4 -q";
  };
  c["compress-infer-model-with-dynabert"] = [=](const fs::path& d) {
    copy_model(d);
    return S +
           " compress --strategy dynabert --task seq_cls --source synthetic --input_infer_model_path model/model "
           "--model_name_or_path model --output_dir o";
  };
}

// The bench and export-runtime rows.
void bench_and_export_cases(std::map<std::string, MakeCase>& c) {
  const std::string S = kCli;
  c["bench-not-a-model"] = [=](const fs::path&) { return S + " bench nosuch"; };
  c["bench-no-export"] = [=](const fs::path& d) {
    fs::create_directories(d / "empty");
    return S + " bench empty";
  };
  c["bench-package-damaged"] = [=](const fs::path& d) {
    copy_model(d);
    return S +
           " export-runtime model pkg && printf X | dd of=pkg/weights.bin bs=1 seek=100 conv=notrunc 2>/dev/null && " +
           S + " bench pkg --iters 1 --batch 1";
  };
  // --- export-runtime
  c["export-runtime-not-a-folder"] = [=](const fs::path&) { return S + " export-runtime nosuch pkg"; };
  c["export-runtime-no-vocab"] = [=](const fs::path& d) {
    copy_model(d);
    fs::remove(d / "model" / "vocab.txt");
    return S + " export-runtime model pkg";
  };
  c["export-runtime-bad-task"] = [=](const fs::path& d) {
    copy_model(d);
    return S + " export-runtime model pkg --task ner";
  };
  c["export-runtime-bad-scheme"] = [=](const fs::path& d) {
    copy_model(d);
    return S + " export-runtime model pkg --scheme iob";
  };
}

std::map<std::string, MakeCase> cases() {
  std::map<std::string, MakeCase> c;
  cli_cases(c);
  pipeline_file_cases(c);
  data_cases(c);
  model_cases(c);
  plugin_cases(c);
  run_folder_cases(c);
  shared_folder_cases(c);
  compress_cases(c);
  bench_and_export_cases(c);
  return c;
}

}  // namespace

TEST(ErrorsDoc, EveryRowIsReproducedWithItsMessageAndExitCode) {
  const std::map<std::string, Row> rows = errors_doc::doc_rows();
  const std::map<std::string, MakeCase> all = cases();
  const bool dump = std::getenv("SLIMPIPE_ERRORS_DUMP") != nullptr;
  if (!dump) {
    EXPECT_GE(rows.size(), 40u) << "docs/errors.md lists fewer than 40 errors";
  }
  for (const auto& [id, setup] : all) {
    const fs::path dir = testutil::temp_dir("errors-" + id);
    const std::string cmd = setup(dir);
    const auto r = run_command("cd '" + dir.string() + "' && " + cmd);
    const std::string out = replace_all(r.output, dir.string(), "<dir>");
    if (dump) std::cout << "=== " << id << " (exit " << r.exit_code << ")\n" << out.substr(0, 2000) << "\n";
    auto row = rows.find(id);
    if (row == rows.end()) {
      ADD_FAILURE() << id << ": reproduced here but not listed in docs/errors.md";
      continue;
    }
    EXPECT_EQ(r.exit_code, row->second.exit_code) << id << ":\n" << out;
    std::istringstream lines(out);
    std::string line;
    bool found = false;
    while (!found && std::getline(lines, line)) found = line_matches(line, row->second.message);
    EXPECT_TRUE(found) << id << ": no line of the output matches docs/errors.md's `" << row->second.message << "`:\n"
                       << out;
    fs::remove_all(dir);
  }
  for (const auto& [id, row] : rows)
    EXPECT_TRUE(all.count(id)) << "docs/errors.md lists " << id << " but this test does not reproduce it";
}
