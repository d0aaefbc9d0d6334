// The slimpipe command line: run, validate, plan and graph pipelines; list and inspect plugins.
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>

#include "slimpipe/allocator.hpp"
#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/executor.hpp"
#include "slimpipe/core/graph_export.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/core/report.hpp"
#include "slimpipe_runtime/runtime.hpp"
#include "slurm_executor.hpp"

namespace po = boost::program_options;
using namespace slimpipe;

namespace slimpipe::cli {
int cmd_bench(const std::vector<std::string>& args);           // bench_command.cpp
int cmd_export_runtime(const std::vector<std::string>& args);  // export_runtime_command.cpp
int cmd_worker(const std::vector<std::string>& args);          // worker_command.cpp
int cmd_run_instance(const std::vector<std::string>& args);    // worker_command.cpp
int cmd_status(const std::vector<std::string>& args);          // worker_command.cpp
int cmd_launch(const std::vector<std::string>& args);          // launch_command.cpp
int cmd_compress(const std::vector<std::string>& args,         // compress_command.cpp
                 const std::function<int(const std::string&, const std::vector<std::string>&)>& run_pipeline);
}  // namespace slimpipe::cli
using namespace slimpipe::core;

namespace {

// Exit status: 0 done; 1 something failed while running (an instance, a data file, a model); 2 the command
// line, the pipeline file or a parameter is wrong, found before anything ran (SpecError, UsageError,
// Boost.Program_options errors). docs/pipelines.md documents the rule.
constexpr int kExitUsage = 2;
namespace fs = std::filesystem;

const char* kUsage = R"(usage: slimpipe <command> [options]

commands:
  run PIPELINE        run the pipeline, skipping instances that are up to date (--executor slurm: as Slurm jobs)
  worker PIPELINE     build the pipeline together with other workers on the same run folder
  run-instance PIPELINE ID
                      build exactly one instance under a claim and commit it (what each Slurm job runs)
  status PIPELINE|RUN each instance: finished, claimed, submitted to Slurm, pending or failed
  validate PIPELINE   check the pipeline file against the plugins; run nothing
  plan PIPELINE       list every instance in order, cached or will-run and why
  graph PIPELINE      print the instance graph (--format dot|mermaid)
  plugins [show NAME] list the plugins found, or print one plugin's parameters
  report RUN         rebuild the run report (report.md/.html, summary.csv/.json) of a run folder or pipeline
  verify RUN          check every artifact of a run folder against its manifest (sizes, SHA-1s)
  bench MODEL...      time runtime exports: latency, throughput, size, peak memory
  export-runtime HF_DIR OUT
                      package a fine-tuned Hugging Face checkpoint for slimpipe_runtime (fp32)
  compress --strategy dynabert|ptq|dynabert+ptq --task T --model_name_or_path DIR --output_dir DIR [--PARAM V...]
                      PaddleNLP-style flags: build the pipeline, write it to DIR/compress.toml and run it
  launch --nproc N [--master-port P] -- COMMAND [ARGS...]
                      start N ranks of COMMAND for data-parallel training (torchrun's variables)

Run `slimpipe <command> --help` for the command's options.
)";

volatile std::sig_atomic_t g_interrupts = 0;

void on_signal(int) {
  if (++g_interrupts >= 2) {
    const char msg[] = "\nslimpipe: second interrupt, exiting now\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    std::_Exit(130);
  }
  request_cancel();
  const char msg[] = "\nslimpipe: interrupted; finishing running instances (Ctrl-C again to quit at once)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
}

struct Common {
  std::vector<std::string> plugin_paths;
  std::vector<std::string> sets;
  std::string pipeline;
};

po::options_description common_options(Common& c) {
  po::options_description d("common options");
  d.add_options()("help,h", "show this help")(
      "plugin-path", po::value(&c.plugin_paths)->composing(),
      "folder to search for plugins first (repeatable); then SLIMPIPE_PLUGIN_PATH, then <exe>/../lib/slimpipe/plugins");
  return d;
}

po::options_description pipeline_options(Common& c) {
  po::options_description d("pipeline options");
  d.add_options()("set", po::value(&c.sets)->composing(),
                  "override a value of the pipeline file: --set pipeline.output_dir=runs/x (repeatable)");
  return d;
}

PluginRegistry load_plugins(const Common& c, bool report_problems) {
  PluginRegistry reg;
  reg.scan(PluginRegistry::search_path(c.plugin_paths));
  if (report_problems)
    for (const auto& p : reg.problems()) std::cerr << "slimpipe: warning: " << p.message << "\n";
  return reg;
}

int cmd_plugins(const std::vector<std::string>& args) {
  Common c;
  auto desc = common_options(c);
  po::options_description hidden;
  std::vector<std::string> pos;
  hidden.add_options()("pos", po::value(&pos));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description p;
  p.add("pos", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(p).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: slimpipe plugins [show NAME]\n\n" << desc;
    return 0;
  }
  PluginRegistry reg = load_plugins(c, false);
  if (pos.empty() || pos[0] == "list") {
    std::cout << std::left << std::setw(16) << "NAME" << std::setw(10) << "KIND" << std::setw(10) << "VERSION"
              << "DESCRIPTION\n";
    for (const auto& pl : reg.plugins())
      std::cout << std::setw(16) << pl.name << std::setw(10) << pl.kind << std::setw(10) << pl.version << pl.description
                << "\n";
    for (const auto& pl : reg.plugins()) std::cout << "  " << pl.name << ": " << pl.file.string() << "\n";
    if (!reg.problems().empty()) {
      std::cout << "\nrefused:\n";
      for (const auto& pr : reg.problems()) std::cout << "  " << pr.message << "\n";
    }
    if (reg.plugins().empty()) {
      std::cout << "(no plugins found; searched:";
      for (const auto& d : PluginRegistry::search_path(c.plugin_paths)) std::cout << " " << d.string();
      std::cout << ")\n";
    }
    return 0;
  }
  if (pos[0] != "show" || pos.size() != 2) {
    std::cerr << "slimpipe plugins: expected `plugins` or `plugins show NAME`\n";
    return kExitUsage;
  }
  const PluginInfo* pl = reg.find(pos[1]);
  if (!pl) {
    std::cerr << "slimpipe: no plugin named '" << pos[1] << "'" << did_you_mean(pos[1], reg.names("")) << "\n";
    return kExitUsage;
  }
  std::cout << pl->name << " " << pl->version << " (" << pl->kind << ")\n  " << pl->description
            << "\n  file: " << pl->file.string() << "\n  fingerprint: " << pl->fingerprint << "\n\nparameters:\n";
  std::size_t name_width = 24;  // the longest name, so that a long one never runs into its type
  for (const auto& s : pl->schema.specs()) name_width = std::max(name_width, s.name.size());
  for (const auto& s : pl->schema.specs()) {
    std::cout << "  " << std::left << std::setw(static_cast<int>(name_width + 2)) << s.name << std::setw(14)
              << to_string(s.type) << (s.required ? std::string("(required)") : "default " + s.default_value.dump())
              << "\n";
    if (!s.doc.empty()) std::cout << "      " << s.doc << "\n";
    if (!s.allowed.empty()) std::cout << "      one of: " << s.allowed.dump() << "\n";
  }
  return 0;
}

// --force, --only and --from name instances or nodes of the plan: a name that is neither is a usage error
// (exit status 2), found before anything runs.
void check_selectors(const Plan& plan, const RunOptions& ro) {
  for (const auto* sels : {&ro.only, &ro.force, &ro.from}) {
    const char* flag = sels == &ro.only ? "--only" : sels == &ro.force ? "--force" : "--from";
    for (const auto& s : *sels) {
      if (!plan.match(s).empty()) continue;
      std::vector<std::string> cands = plan.ids();
      for (const auto& i : plan.instances) cands.push_back(i.id.substr(0, i.id.find('@')));
      throw UsageError(std::string(flag) + " " + s + ": no such instance or node" + did_you_mean(s, cands) +
                       "; `slimpipe plan` lists them");
    }
  }
}

// Writes the run report of `run_dir` into `out_dir` and returns it. Throws Error.
RunReport write_report(const fs::path& run_dir, const std::string& pipeline_name, const fs::path& out_dir) {
  RunReport report = build_run_report(run_dir, pipeline_name, slimpipe_runtime::cpu_isa());
  write_run_report(report, out_dir);
  return report;
}

// `slimpipe report`: writes the files, prints the Markdown.
int print_report(const fs::path& run_dir, const std::string& pipeline_name, const std::string& out) {
  const fs::path out_dir = out.empty() ? run_dir : fs::path(out);
  std::cout << write_report(run_dir, pipeline_name, out_dir).markdown();
  std::cerr << "slimpipe: report in " << (out_dir / "report.md").string()
            << " (and report.html, summary.csv, summary.json)\n";
  return 0;
}

// `slimpipe verify`: one line per damaged artifact and a summary; 0 when every artifact is intact, else 1.
// Reads only: takes no lock, and works while a run writes the folder.
int print_verify(const fs::path& run_dir, bool quick) {
  const VerifyResult r = verify_run_folder(run_dir, quick);
  for (const auto& w : r.warnings) std::cerr << "slimpipe: warning: " << w << "\n";
  for (const auto& d : r.damaged) std::cout << "damaged: " << d << "\n";
  const std::string what = quick ? "sizes" : "sizes and SHA-1s";
  if (r.damaged.empty()) {
    std::cout << r.artifacts << " artifact" << (r.artifacts == 1 ? "" : "s") << " in " << run_dir.string()
              << " checked (" << what << "): all intact\n";
    return 0;
  }
  std::cout << r.damaged.size() << " of " << r.artifacts << " artifacts in " << run_dir.string() << " damaged (" << what
            << "); rebuild them with `slimpipe run PIPELINE --force ID`\n";
  return 1;
}

// What `slimpipe run|validate|plan|graph|report|verify` read from the command line.
struct PipelineArgs {
  Common c;
  RunOptions ro;
  std::string format = "dot";
  std::string report_out;
  bool quiet = false, verbose = false, quick = false;
  std::string log_format = "text";
  std::string executor = "local";
  std::vector<std::string> slurm_opts;
};

void print_pipeline_usage(const std::string& cmd, const po::options_description& desc,
                          const po::options_description* extra) {
  if (cmd == "report")
    std::cout << "usage: slimpipe report RUN_FOLDER|PIPELINE.toml [options]\n\n"
              << "Rebuilds report.md, report.html, summary.csv and summary.json from the folder's pipeline.lock and\n"
              << "manifests (`slimpipe run` writes them at the end of every run).\n\n";
  else if (cmd == "verify")
    std::cout
        << "usage: slimpipe verify RUN_FOLDER|PIPELINE.toml [--quick]\n\n"
        << "Checks every artifact's files against its manifest.json: each listed file exists with the recorded size\n"
        << "and SHA-1. Prints one line per damaged artifact; exit status 0 when all are intact, 1 otherwise.\n\n";
  else
    std::cout << "usage: slimpipe " << cmd << " PIPELINE.toml [options]\n\n";
  std::cout << desc;
  if (extra) std::cout << *extra;
}

// Log level, log format and --max-parallel; an exit status when one of them is wrong.
std::optional<int> apply_log_options(const std::string& cmd, PipelineArgs& a, bool max_parallel_given) {
  RunOptions& ro = a.ro;
  if (a.quiet) ro.level = LogLevel::Warn;
  if (a.verbose) ro.level = LogLevel::Debug;
  const std::string& log_format = a.log_format;
  if (log_format != "text" && log_format != "live" && log_format != "plain" && log_format != "json") {
    std::cerr << "slimpipe " << cmd << ": --log-format " << log_format << ": expected text, live, plain or json\n";
    return kExitUsage;
  }
  ro.format = log_format == "json" ? LogFormat::Json : LogFormat::Text;
  {
    // text: live on a terminal, plain elsewhere; live / plain force one (a CI log that renders ANSI, a terminal
    // that should scroll).
    const char* term = std::getenv("TERM");
    const bool terminal = ::isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
    ro.live = log_format == "live" || (log_format == "text" && terminal);
  }
  if (max_parallel_given && (ro.max_parallel < 1 || ro.max_parallel > kMaxParallel)) {
    std::cerr << "slimpipe " << cmd << ": --max-parallel must be between 1 and " << kMaxParallel << ", got "
              << ro.max_parallel << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// Parses the command line into `a`; an exit status when the command ends here (help, a usage error).
std::optional<int> parse_pipeline_args(const std::string& cmd, const std::vector<std::string>& args, PipelineArgs& a) {
  Common& c = a.c;
  RunOptions& ro = a.ro;
  auto desc = common_options(c);
  desc.add(pipeline_options(c));
  po::options_description run_opts("run and plan options");
  run_opts.add_options()("force", po::value(&ro.force)->composing(),
                         "rebuild this instance or node even if cached (repeatable)")(
      "only", po::value(&ro.only)->composing(),
      "run only this instance or node; its inputs must be built (repeatable)")(
      "from", po::value(&ro.from)->composing(), "rebuild this instance or node and everything downstream (repeatable)")(
      "max-parallel", po::value(&ro.max_parallel), "override pipeline.max_parallel")(
      "quiet,q", po::bool_switch(&a.quiet), "only warnings and errors")("verbose,v", po::bool_switch(&a.verbose),
                                                                        "debug output")(
      "log-format", po::value(&a.log_format),
      "text (default: live on a terminal, plain elsewhere), live (a redrawn status block), plain (lines) or json "
      "(one object per line)");
  if (cmd == "run")
    run_opts.add_options()("executor", po::value(&a.executor),
                           "local (default) or slurm: every instance that must run becomes a Slurm job")(
        "slurm-opt", po::value(&a.slurm_opts)->composing(),
        "passed to sbatch, e.g. --slurm-opt=--partition=gpu --slurm-opt=--time=2:00:00 (repeatable)");
  po::options_description graph_opts("graph options");
  graph_opts.add_options()("format", po::value(&a.format), "dot or mermaid (default dot)");
  po::options_description report_opts("report options");
  report_opts.add_options()("out", po::value(&a.report_out), "write the report files here instead of the run folder");
  po::options_description verify_opts("verify options");
  verify_opts.add_options()("quick", po::bool_switch(&a.quick), "check sizes only (stat), not the SHA-1 of every file");
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value(&c.pipeline));
  const po::options_description* extra = cmd == "run" || cmd == "plan" ? &run_opts
                                         : cmd == "graph"              ? &graph_opts
                                         : cmd == "report"             ? &report_opts
                                         : cmd == "verify"             ? &verify_opts
                                                                       : nullptr;
  po::options_description all;
  all.add(desc).add(hidden);
  if (extra) all.add(*extra);
  po::positional_options_description p;
  p.add("pipeline", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(p).run(), vm);
  po::notify(vm);
  if (vm.count("help") || c.pipeline.empty()) {
    print_pipeline_usage(cmd, desc, extra);
    return c.pipeline.empty() && !vm.count("help") ? kExitUsage : 0;
  }
  return apply_log_options(cmd, a, vm.count("max-parallel") != 0);
}

int print_graph(const PipelineSpec& spec, const Plan& plan, const std::string& format) {
  if (format == "dot")
    std::cout << to_dot(spec, plan);
  else if (format == "mermaid")
    std::cout << to_mermaid(spec, plan);
  else {
    std::cerr << "slimpipe graph: --format must be dot or mermaid, got '" << format << "'\n";
    return kExitUsage;
  }
  return 0;
}

int print_plan(Executor& ex, const PipelineSpec& spec, const Plan& plan, const RunOptions& ro) {
  int run = 0, cached = 0;
  for (const auto& row : ex.dry_run(ro)) {
    const auto& inst = plan.instances[row.instance];
    if (inst.is_model()) {
      std::cout << std::left << std::setw(10) << "input" << inst.id << "  (" << row.reason << ")\n";
      continue;
    }
    (row.will_run ? run : cached)++;
    std::cout << std::left << std::setw(10) << (row.will_run ? "will-run" : "cached") << inst.id << "  (" << row.reason
              << ")\n";
  }
  std::cout << run << " to run, " << cached << " cached; output in " << spec.output_dir.string() << "\n";
  return 0;
}

void print_run_summary(const PipelineSpec& spec, const Plan& plan, const RunSummary& s) {
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const auto& oc = s.outcomes[i];
    if (oc.status == Status::Failed || oc.status == Status::Skipped)
      std::cerr << "slimpipe: " << to_string(oc.status) << ": " << plan.instances[i].id << ": " << oc.reason << "\n";
  }
  std::cerr << "slimpipe: " << s.ran << " ran, " << s.cached << " cached, " << s.failed << " failed, " << s.skipped
            << " skipped";
  if (s.cancelled) std::cerr << ", " << s.cancelled << " cancelled";
  if (s.unselected) std::cerr << ", " << s.unselected << " not selected";
  std::cerr << " in " << std::fixed << std::setprecision(1) << s.seconds << " s; output in " << spec.output_dir.string()
            << "\n";
  if (s.interrupted) std::cerr << "slimpipe: interrupted; run the same command again to resume\n";
}

// `run --executor slurm`: the jobs run `slimpipe run-instance` with this binary and this command line's plugin
// folders and overrides.
RunSummary run_slurm(const PipelineSpec& spec, const Plan& plan, const PipelineArgs& a) {
  if (!a.ro.only.empty() || !a.ro.force.empty() || !a.ro.from.empty())
    throw UsageError(
        "--executor slurm runs every instance that is not up to date; --only, --force and --from "
        "are for the local executor");
  cli::SlurmRunOptions o;
  o.exe = fs::canonical("/proc/self/exe");
  o.pipeline = fs::absolute(a.c.pipeline);
  for (const auto& p : a.c.plugin_paths) o.plugin_paths.push_back(fs::absolute(p).string());
  o.sets = a.c.sets;
  o.slurm_opts = a.slurm_opts;
  return cli::run_on_slurm(spec, plan, o);
}

int run_pipeline(Executor& ex, const PipelineSpec& spec, const Plan& plan, const PipelineArgs& a) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (a.executor != "local" && a.executor != "slurm")
    throw UsageError("--executor " + a.executor + ": expected local or slurm");
  if (a.executor != "slurm" && !a.slurm_opts.empty()) throw UsageError("--slurm-opt is for --executor slurm");
  RunSummary s = a.executor == "slurm" ? run_slurm(spec, plan, a) : ex.run(a.ro);
  print_run_summary(spec, plan, s);
  // The run report, whatever happened: a failed or interrupted run is reported too. Its own failure
  // never changes the run's exit status.
  if (fs::exists(spec.output_dir / "pipeline.lock") || fs::exists(spec.output_dir / "pipeline.lock.journal")) {
    try {
      write_report(spec.output_dir, spec.name, spec.output_dir);
      std::cerr << "slimpipe: report in " << (spec.output_dir / "report.md").string() << "\n";
    } catch (const std::exception& e) {
      std::cerr << "slimpipe: warning: no run report: " << e.what() << "\n";
    }
  }
  return s.exit_code();
}

int cmd_pipeline(const std::string& cmd, const std::vector<std::string>& args) {
  PipelineArgs a;
  if (std::optional<int> done = parse_pipeline_args(cmd, args, a)) return *done;
  const Common& c = a.c;
  if (cmd == "report" && fs::is_directory(c.pipeline))
    return print_report(c.pipeline, "", a.report_out);  // no plugins needed
  if (cmd == "verify" && fs::is_directory(c.pipeline)) return print_verify(c.pipeline, a.quick);
  // A run on a folder in use fails at once, before seconds of plugin loading.
  std::unique_ptr<RunLock> early_lock =
      cmd == "run" && a.executor == "local" ? RunLock::before_loading(c.pipeline, c.sets) : nullptr;
  PluginRegistry reg = load_plugins(c, true);
  PipelineSpec spec = load_pipeline(c.pipeline, c.sets, reg);
  Plan plan = make_plan(spec);
  if (cmd == "validate") {
    std::size_t nodes = spec.nodes.size();
    std::cout << c.pipeline << ": ok (" << nodes << " node" << (nodes == 1 ? "" : "s") << ", "
              << plan.instances.size() - (spec.model_path ? 1 : 0) << " instances)\n";
    return 0;
  }
  if (cmd == "graph") return print_graph(spec, plan, a.format);
  if (cmd == "report") return print_report(spec.output_dir, spec.name, a.report_out);
  if (cmd == "verify") return print_verify(spec.output_dir, a.quick);
  check_selectors(plan, a.ro);
  Executor ex(spec, plan);
  if (early_lock) ex.adopt_run_lock(std::move(early_lock));
  if (cmd == "plan") return print_plan(ex, spec, plan, a.ro);
  return run_pipeline(ex, spec, plan, a);
}

}  // namespace

int main(int argc, char** argv) {
  // Training and evaluation free and re-allocate the same large tensors every step: keep them in the heap
  // instead of paying page faults for fresh mmaps (slimpipe/allocator.hpp, docs/training.md).
  slimpipe::tune_allocator_for_tensors();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? kExitUsage : 0;
  }
  if (args[0] == "--version") {
    std::cout << "slimpipe " << SLIMPIPE_VERSION_STRING << " (plugin descriptor layout " << SLIMPIPE_DESCRIPTOR_LAYOUT
              << ", " << host_fingerprint() << ")\n";
    return 0;
  }
  // Options may come before the command: `slimpipe --plugin-path X run p.toml`.
  static const std::vector<std::string> kCommands = {"run",    "validate",     "plan",   "graph",    "report",
                                                     "verify", "plugins",      "bench",  "compress", "export-runtime",
                                                     "worker", "run-instance", "status", "launch"};
  if (args[0].rfind("-", 0) == 0) {
    auto it = std::find_if(args.begin(), args.end(), [](const std::string& a) {
      return std::find(kCommands.begin(), kCommands.end(), a) != kCommands.end();
    });
    if (it != args.end()) std::rotate(args.begin(), it, it + 1);
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "launch") return slimpipe::cli::cmd_launch(args);
    if (cmd == "plugins") return cmd_plugins(args);
    if (cmd == "bench") return slimpipe::cli::cmd_bench(args);
    if (cmd == "export-runtime") return slimpipe::cli::cmd_export_runtime(args);
    if (cmd == "worker") return slimpipe::cli::cmd_worker(args);
    if (cmd == "run-instance") return slimpipe::cli::cmd_run_instance(args);
    if (cmd == "status") return slimpipe::cli::cmd_status(args);
    if (cmd == "compress")
      return slimpipe::cli::cmd_compress(
          args, [](const std::string& c, const std::vector<std::string>& a) { return cmd_pipeline(c, a); });
    if (cmd == "run" || cmd == "validate" || cmd == "plan" || cmd == "graph" || cmd == "report" || cmd == "verify")
      return cmd_pipeline(cmd, args);
    std::cerr << "slimpipe: unknown command '" << cmd << "'" << did_you_mean(cmd, kCommands) << "\n\n" << kUsage;
    return kExitUsage;
  } catch (const SpecError& e) {
    std::cerr << e.what() << "\n";
    std::cerr << "slimpipe: " << e.diagnostics().size() << " error" << (e.diagnostics().size() == 1 ? "" : "s")
              << "; nothing was run\n";
    return kExitUsage;
  } catch (const UsageError& e) {  // the command line or a parameter is wrong; nothing ran
    std::cerr << "slimpipe: " << e.what() << "\n";
    return kExitUsage;
  } catch (const po::error& e) {
    std::cerr << "slimpipe " << cmd << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "slimpipe: " << e.what() << "\n";
    return 1;
  }
}
