// `slimpipe compress`: PaddleNLP's Trainer.compress() from the command line. Flat flags with PaddleNLP's names
// (--strategy, --width_mult_list, --algo_list, --batch_size_list, ...) build a pipeline: the task, the
// strategy node (dynabert, ptq or the dynabert+ptq composite) on the input model, and a rank node over every
// candidate. The pipeline is written to <output_dir>/compress.toml and run like any other, so it resumes.
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "compress_values.hpp"
#include "slimpipe/core/diagnostics.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/core/run_lock.hpp"
#include "slimpipe/io/checked_file.hpp"

namespace slimpipe::cli {

namespace {

namespace fs = std::filesystem;
using compress::checked_flag_value;
using compress::emit_table;
using compress::Error;
using compress::parse_int;
using compress::scalar_value;
using core::PluginInfo;
using core::PluginRegistry;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

const char* kCompressUsage = R"(usage: slimpipe compress [--strategy dynabert|ptq|dynabert+ptq] --task TASK
                         --model_name_or_path DIR --output_dir DIR [--PARAM VALUE...] [options]

Builds and runs a pipeline from PaddleNLP-style flags: the input model (a local folder), the task, the
strategy node (dynabert+ptq when --strategy is left out, as in PaddleNLP) and a rank node over every
candidate. --train_file, --eval_file (or --dev_file) and --test_file set the task's data files. Any
parameter of the task plugin, of the strategy (or of its steps) or of rank is a flag: --width_mult_list 3/4 1/2, --algo_list mse KL,
--batch_size_list 4 8 16, --batch_num_list 1, --weight_quantize_type abs_max, --round_type adaround,
--bias_correction, --num_train_epochs 3, --max_metric_drop 1.0 ... (`slimpipe plugins show NAME` lists them).
With --strategy ptq, --input_infer_model_path DIR/model quantizes the exported model folder DIR (config.json +
model.safetensors, as finetune and dynabert write it) instead of --model_name_or_path.

options:
  --emit-toml         print the pipeline and exit
  --plan              list what would run and exit
  --max_parallel N    instances in flight at once (default 2)
  --plugin-path DIR   folder to search for plugins first (repeatable)
  -q, --quiet         only warnings and errors
)";

// PaddleNLP's --input_infer_model_path is "dir/prefix" of an exported static model that PTQ quantizes instead
// of exporting the trainer's model. Here the exported model is a slimpipe / Hugging Face folder (config.json
// and model.safetensors, or pytorch_model.bin), as finetune and dynabert write it: "dir/model" names
// dir/model.safetensors, and the folder itself is accepted too. Returns the folder; throws Error naming the
// path and what was expected.
fs::path infer_model_folder(const std::string& value, const std::string& strategy) {
  if (strategy != "ptq")
    throw Error("--input_infer_model_path applies to --strategy ptq only (PaddleNLP silently ignores it for '" +
                strategy + "'); pass the model to compress with --model_name_or_path");
  const fs::path given(value);
  fs::path dir = given, prefix = "model";
  if (!fs::is_directory(given)) {
    dir = given.has_parent_path() ? given.parent_path() : fs::path(".");
    prefix = given.filename();
  }
  const std::string where = "--input_infer_model_path " + value + ": ";
  for (const char* foreign : {".onnx", ".pdmodel"})
    if (fs::exists(dir / (prefix.string() + foreign)) && !fs::exists(dir / "config.json"))
      throw Error(where + (dir / (prefix.string() + foreign)).string() + " is an exported " +
                  (std::string(foreign) == ".onnx" ? "ONNX" : "Paddle") +
                  " graph; slimpipe quantizes the model folder it was exported from (config.json + model.safetensors)");
  if (!fs::is_directory(dir)) throw Error(where + "no folder " + dir.string());
  if (!fs::exists(dir / "config.json")) throw Error(where + "no config.json in " + dir.string());
  const std::map<std::string, std::string> weights = {{"model", "model.safetensors"},
                                                      {"pytorch_model", "pytorch_model.bin"}};
  const auto w = weights.find(prefix.string());
  if (w == weights.end())
    throw Error(where +
                "expected the prefix 'model' (model.safetensors) or 'pytorch_model' (pytorch_model.bin), got '" +
                prefix.string() + "'");
  if (!fs::exists(dir / w->second)) throw Error(where + "no " + w->second + " in " + dir.string());
  return dir;
}

// What `slimpipe compress` read from the command line.
struct CompressArgs {
  std::map<std::string, std::vector<std::string>> flags;  // every --name and its values, for the pipeline
  std::vector<std::string> order;                         // their names, in the order given
  std::vector<std::string> plugin_paths;
  bool emit = false, plan = false, quiet = false;
  std::string max_parallel = "2";

  // The one value of --name, taken out of the flags; "" when it was not given.
  std::string take(const std::string& name) {
    auto it = flags.find(name);
    if (it == flags.end()) return "";
    std::string v = it->second.size() == 1 ? it->second[0] : "";
    if (it->second.size() != 1) throw Error("--" + name + ": expected one value");
    flags.erase(it);
    order.erase(std::find(order.begin(), order.end(), name));
    return v;
  }
};

// --max_parallel N: false (the error printed) when N is not an integer in range.
bool set_max_parallel(const std::string& name, const std::vector<std::string>& values, CompressArgs& a) {
  std::int64_t v = 0;
  if (values.size() != 1 || !parse_int(values[0], v) || v < 1 || v > core::kMaxParallel) {
    std::string given;
    for (const auto& x : values) given += (given.empty() ? "" : " ") + x;
    std::cerr << "slimpipe compress: --" << name << ": expected an integer between 1 and " << core::kMaxParallel
              << ", got '" << given << "'\n";
    return false;
  }
  a.max_parallel = values[0];
  return true;
}

// Parses the command line into `a`; an exit status when the command ends here (help, a usage error).
std::optional<int> parse_compress_args(const std::vector<std::string>& args, CompressArgs& a) {
  // Values run to the next option; "-1" is a value, "-q" an option.
  auto is_option = [](const std::string& x) {
    return x.size() > 1 && x[0] == '-' && (x[1] == '-' || std::isalpha(static_cast<unsigned char>(x[1])));
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kCompressUsage;
      return 0;
    }
    bool* const option = arg == "--emit-toml"              ? &a.emit
                         : arg == "--plan"                 ? &a.plan
                         : arg == "-q" || arg == "--quiet" ? &a.quiet
                                                           : nullptr;
    if (option) {
      *option = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() < 3) {
      std::cerr << "slimpipe compress: unexpected argument '" << arg << "' (flags are --name value...)\n\n"
                << kCompressUsage;
      return kExitUsage;
    }
    std::string name = arg.substr(2);
    std::vector<std::string> values;
    const auto eq = name.find('=');
    if (eq != std::string::npos) {
      values.push_back(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    while (i + 1 < args.size() && !is_option(args[i + 1])) values.push_back(args[++i]);
    if (name == "plugin-path") {
      a.plugin_paths.insert(a.plugin_paths.end(), values.begin(), values.end());
    } else if (name == "max_parallel" || name == "max-parallel") {
      if (!set_max_parallel(name, values, a)) return kExitUsage;
    } else if (a.flags.count(name)) {
      std::cerr << "slimpipe compress: --" << name << " is given twice\n";
      return kExitUsage;
    } else {
      a.flags[name] = values;
      a.order.push_back(name);
    }
  }
  return std::nullopt;
}

// PaddleNLP's spellings and habits: the data file aliases, --learning_rate with ptq (dropped with a warning),
// min_max (refused).
void translate_paddle_flags(CompressArgs& a, const std::string& strategy) {
  auto& flags = a.flags;
  // The data files under PaddleNLP's spellings: --train_file, --eval_file (--dev_file), --test_file set the
  // task's train, eval and test.
  for (const auto& [alias, param] : std::vector<std::pair<std::string, std::string>>{
           {"train_file", "train"}, {"eval_file", "eval"}, {"dev_file", "eval"}, {"test_file", "test"}}) {
    auto it = flags.find(alias);
    if (it == flags.end()) continue;
    if (flags.count(param))
      throw Error("--" + alias + " and --" + param + " both set the task's " + param + " file; keep one");
    flags[param] = it->second;
    flags.erase(it);
    *std::find(a.order.begin(), a.order.end(), alias) = param;
  }
  // PaddleNLP hands its training --learning_rate to AdaRound when the strategy is ptq, so a fine-tuning rate
  // (2e-5) silently stalls it. Here AdaRound has its own --adaround_learning_rate; PaddleNLP's scripts pass
  // --learning_rate anyway, so it is dropped with a warning rather than refused.
  if (strategy == "ptq" && flags.count("learning_rate")) {
    std::cerr << "slimpipe compress: warning: --learning_rate is not used with --strategy ptq (PaddleNLP gives it to "
                 "AdaRound; here that is --adaround_learning_rate, default 0.001)\n";
    flags.erase("learning_rate");
    a.order.erase(std::find(a.order.begin(), a.order.end(), "learning_rate"));
  }

  // Refused before the pipeline is written: slimpipe's int8 is symmetric (the ptq plugin refuses it too).
  for (const char* name : {"algo_list", "algo"})
    if (const auto it = flags.find(name);
        it != flags.end() && std::find(it->second.begin(), it->second.end(), "min_max") != it->second.end())
      throw Error(std::string("--") + name +
                  " min_max: not supported: Paddle's min_max keeps asymmetric ranges and "
                  "slimpipe's int8 is symmetric; use abs_max (the symmetric threshold of the same ranges)");
}

// The pipeline's tables: [task], [nodes.compress] and [nodes.rank], each with the flags its plugin declares.
struct PipelineRows {
  std::vector<std::pair<std::string, Json>> task, node, rank;
};

// Routes every remaining flag to the task, the strategy node and/or the rank node; Error on a flag none of
// their plugins declares, or a plugin that is not installed.
PipelineRows route_flags(const CompressArgs& a, const std::string& task, const std::string& strategy) {
  PluginRegistry reg;
  reg.scan(PluginRegistry::search_path(a.plugin_paths));
  auto need = [&](const std::string& name, const std::string& kind) -> const PluginInfo& {
    const PluginInfo* p = reg.find(name);
    if (!p || (p->kind != kind && !(kind == "strategy" && p->kind == "composite")))
      throw Error("plugin '" + name + "' (" + kind + ") is not installed" + core::did_you_mean(name, reg.names(kind)) +
                  "; `slimpipe plugins` lists the plugins found");
    return *p;
  };
  const PluginInfo& task_plugin = need(task, "task");
  const PluginInfo& strategy_plugin = need(strategy, "strategy");
  const PluginInfo& rank_plugin = need("rank", "strategy");
  std::vector<const PluginInfo*> strategy_schemas;
  if (strategy_plugin.kind == "composite") {
    for (const auto& step : strategy_plugin.steps) strategy_schemas.push_back(&need(step.plugin, "strategy"));
  } else {
    strategy_schemas.push_back(&strategy_plugin);
  }

  PipelineRows rows{{{"type", task}},
                    {{"type", strategy}, {"inputs", Json::array({"model"})}},
                    {{"type", "rank"}, {"inputs", Json::array({"compress"})}, {"collect", true}}};
  std::vector<std::string> known;
  for (const std::string& name : a.order) {
    bool used = false;
    const std::vector<std::string>& values = a.flags.at(name);
    if (const ParamSpec* s = task_plugin.schema.find(name)) {
      rows.task.emplace_back(name, checked_flag_value(name, *s, values));
      used = true;
    }
    for (const PluginInfo* p : strategy_schemas)
      if (const ParamSpec* s = p->schema.find(name)) {
        rows.node.emplace_back(name, checked_flag_value(name, *s, values));
        used = true;
        break;
      }
    if (const ParamSpec* s = rank_plugin.schema.find(name)) {
      rows.rank.emplace_back(name, checked_flag_value(name, *s, values));
      used = true;
    }
    if (!used) {
      for (const auto* p : {&task_plugin, &rank_plugin})
        for (const auto& s : p->schema.specs()) known.push_back(s.name);
      for (const PluginInfo* p : strategy_schemas)
        for (const auto& s : p->schema.specs()) known.push_back(s.name);
      throw Error("--" + name + ": not a parameter of task '" + task + "', strategy '" + strategy + "' or rank" +
                  core::did_you_mean(name, known));
    }
  }
  return rows;
}

// The data each strategy reads, checked before anything is written: dynabert distils on train; every
// strategy makes its choices (and ptq its calibration) on eval, which may be carved out of train.
void check_data_flags(const std::map<std::string, std::vector<std::string>>& flags, const std::string& strategy) {
  const auto source = flags.find("source");
  if (source != flags.end() && source->second == std::vector<std::string>{"synthetic"}) return;
  const bool distils = strategy.find("dynabert") != std::string::npos;
  if (distils && !flags.count("train"))
    throw Error("--strategy " + strategy +
                " needs training data for distillation: --train_file FILE (or "
                "--source synthetic)");
  if (!flags.count("eval") && !flags.count("eval_from"))
    throw Error("--strategy " + strategy + " needs dev data (" +
                (distils ? "importance, evaluation, " : std::string()) +
                "calibration and the ranking read it): --eval_file FILE, or --eval_from train with --eval_size N "
                "(or --source synthetic)");
}

// Hub names cannot be fetched: the model must be a local folder, checked before planning or running.
void check_model_folder(const std::string& model) {
  if (!fs::is_directory(model))
    throw Error("--model_name_or_path " + model +
                ": no such folder; slimpipe does not download models by hub "
                "name: download the fine-tuned model and pass its local folder (config.json and "
                "model.safetensors or pytorch_model.bin)");
  if (!fs::exists(fs::path(model) / "config.json"))
    throw Error("--model_name_or_path " + model +
                ": no config.json in the folder (expected a Hugging Face model "
                "folder: config.json and model.safetensors or pytorch_model.bin)");
}

std::string pipeline_toml(const std::vector<std::string>& args, const CompressArgs& a, const std::string& output_dir,
                          const std::string& model, const PipelineRows& rows) {
  std::ostringstream toml;
  toml << "# Written by: slimpipe compress";
  for (const auto& arg : args) toml << " " << (arg.find(' ') == std::string::npos ? arg : "'" + arg + "'");
  toml << "\n";
  emit_table(toml, "pipeline",
             {{"name", "compress"},
              {"output_dir", output_dir},
              {"max_parallel", scalar_value("max_parallel", ParamType::Int, a.max_parallel)}});
  emit_table(toml, "model", {{"path", fs::absolute(model).lexically_normal().string()}});
  emit_table(toml, "task", rows.task);
  emit_table(toml, "nodes.compress", rows.node);
  emit_table(toml, "nodes.rank", rows.rank);
  return toml.str();
}

// Writes <output_dir>/compress.toml (a temporary file for --plan on a folder in use) and runs or plans it.
int write_and_run(const CompressArgs& a, const std::string& output_dir, const std::string& toml,
                  const std::function<int(const std::string&, const std::vector<std::string>&)>& run_pipeline) {
  fs::create_directories(output_dir);
  fs::path file = fs::path(output_dir) / "compress.toml";
  std::optional<fs::path> temporary;  // --plan on a folder in use: the pipeline is planned from a temp file
  try {
    // A run writing this folder keeps its compress.toml: the folder's lock is taken before the file is
    // replaced (whole or not at all), and let go for the run, which takes it again.
    core::RunLock guard(output_dir);
    write_file_atomic(file, toml);
  } catch (const core::FolderInUse& e) {
    if (!a.plan) {
      std::cerr << "slimpipe compress: " << e.what() << "\n";
      return kExitFailure;
    }
    file = fs::temp_directory_path() / ("slimpipe-compress-plan-" + std::to_string(::getpid()) + ".toml");
    write_file_atomic(file, toml);
    temporary = file;
  } catch (const std::exception& e) {  // compress.toml cannot be written (a full disk, a read-only folder)
    std::cerr << "slimpipe compress: " << e.what() << "\n";
    return kExitFailure;
  }
  struct RemoveAfter {
    const std::optional<fs::path>& path;
    ~RemoveAfter() {
      std::error_code ec;
      if (path) fs::remove(*path, ec);
    }
  } remove_after{temporary};
  std::vector<std::string> extra;
  for (const auto& p : a.plugin_paths) extra.insert(extra.end(), {"--plugin-path", p});
  if (a.quiet) extra.push_back("-q");
  if (!a.quiet) std::cerr << "slimpipe compress: pipeline written to " << file.string() << "\n";
  return run_pipeline(a.plan ? "plan" : "run", [&] {
    std::vector<std::string> run_args{file.string()};
    run_args.insert(run_args.end(), extra.begin(), extra.end());
    return run_args;
  }());
}

}  // namespace

// run_pipeline: runs `slimpipe <cmd> FILE <extra args>` in this process.
int cmd_compress(const std::vector<std::string>& args,
                 const std::function<int(const std::string&, const std::vector<std::string>&)>& run_pipeline) {
  CompressArgs a;
  if (std::optional<int> done = parse_compress_args(args, a)) return *done;
  try {
    // PaddleNLP's compress() runs dynabert+ptq when no strategy is named.
    std::string strategy = a.take("strategy");
    if (strategy.empty()) strategy = "dynabert+ptq";
    const std::string task = a.take("task");
    std::string model = a.take("model_name_or_path");
    const std::string infer = a.take("input_infer_model_path");
    std::string output_dir = a.take("output_dir");
    if (!infer.empty()) {
      const fs::path quantized = infer_model_folder(infer, strategy);
      if (!model.empty() && fs::absolute(model).lexically_normal() != fs::absolute(quantized).lexically_normal() &&
          !a.quiet)
        std::cerr << "slimpipe compress: quantizing " << quantized.string() << " (--input_infer_model_path); "
                  << "--model_name_or_path " << model << " is not used\n";
      model = quantized.string();
    }
    if (strategy.empty() || task.empty() || model.empty() || output_dir.empty())
      throw Error(
          "--task, --model_name_or_path (or, with --strategy ptq, --input_infer_model_path) and "
          "--output_dir are required (see --help)");
    const std::vector<std::string> strategies = {"dynabert", "ptq", "dynabert+ptq"};
    if (std::find(strategies.begin(), strategies.end(), strategy) == strategies.end())
      throw Error("--strategy: expected dynabert, ptq or dynabert+ptq, got '" + strategy + "'" +
                  core::did_you_mean(strategy, strategies));

    translate_paddle_flags(a, strategy);
    const PipelineRows rows = route_flags(a, task, strategy);
    check_data_flags(a.flags, strategy);
    if (!a.emit && infer.empty()) check_model_folder(model);

    output_dir = fs::absolute(output_dir).lexically_normal().string();
    const std::string toml = pipeline_toml(args, a, output_dir, model, rows);
    if (a.emit) {
      std::cout << toml;
      return 0;
    }
    return write_and_run(a, output_dir, toml, run_pipeline);
  } catch (const Error& e) {
    std::cerr << "slimpipe compress: " << e.what() << "\n";
    return kExitUsage;
  }
}

}  // namespace slimpipe::cli
