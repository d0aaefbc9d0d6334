// quant_site_audit: every calibration algorithm at every kind of quantization site. Loads a pipeline file's
// [task] and [model] (bench/quant/results_seq_cls.toml: the synthetic seq_cls model of docs/results.md), runs
// one PTQ cell per algorithm (quant::quantize_post_training, the ptq plugin's calibration), and prints
//   1. the SQNR (dB) of each operand kind against its fake-quantized form, measured on eval features through
//      the fp32 model (each operand quantized alone, fp32 inputs), summed over the layers (quant::QuantErrorMeter);
//   2. each kind's threshold as a fraction of its max |x| on the calibration data;
//   3. the whole model: logit SQNR and the task metric on the full eval split, with the attention probabilities
//      calibrated by the algorithm (probs_fixed_range = false, Paddle) and at their fixed range T = 1 (the default).
//
//   build/bin/quant_site_audit bench/quant/results_seq_cls.toml [--set key=value]... [--batch-size 16]
//       [--batch-num 4] [--samples 256] [--threads 1] [--algos KL,mse] [--paddle-compat]
//       [--dump SITE:OPERAND=FILE]   (also write that operand's calibration values as raw float32, for study)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

struct Kind {
  const char* key;
  const char* label;
};

// Site kinds in forward order. "P" is operand 0 of P.V (softmax output); "ffn2_in" is GELU(FFN1): what the issue
// calls the FFN1 output is the FFN2 input here (the pre-GELU FFN1 output is never quantized).
const std::vector<Kind> kKinds = {{"qkv_in", "Q/K/V Linear in"}, {"Q", "Q (QK left)"},
                                  {"K", "K (QK right)"},         {"P", "P probs (PV left)"},
                                  {"V", "V (PV right)"},         {"ctx", "context (attn-out in)"},
                                  {"ffn1_in", "FFN1 in"},        {"ffn2_in", "FFN2 in = GELU out"},
                                  {"pooler_in", "pooler in"},    {"head_in", "classifier in"}};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string kind_of(const quant::SiteOperandKey& k) {
  if (ends_with(k.site, ".qk")) return k.operand == 0 ? "Q" : "K";
  if (ends_with(k.site, ".pv")) return k.operand == 0 ? "P" : "V";
  if (ends_with(k.site, "attention.self.query") || ends_with(k.site, "attention.self.key") ||
      ends_with(k.site, "attention.self.value"))
    return "qkv_in";
  if (ends_with(k.site, "attention.output.dense")) return "ctx";
  if (ends_with(k.site, "intermediate.dense")) return "ffn1_in";
  if (ends_with(k.site, "output.dense")) return "ffn2_in";
  if (k.site.find("pooler") != std::string::npos) return "pooler_in";
  return "head_in";
}

std::string fmt(double v, int digits = 1) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

at::Tensor flat_outputs(const nn::EncoderOutput& o) {
  return o.logits.defined() ? o.logits.reshape({-1}).cpu()
                            : at::cat({o.start_logits.reshape({-1}), o.end_logits.reshape({-1})}).cpu();
}

struct AlgoResult {
  std::map<std::string, quant::QuantErrorMeter> operand;  // per kind, thresholds as calibrated
  quant::QuantErrorMeter probs_fixed;                     // P at T = 1
  std::map<std::string, std::vector<double>> ratio;       // per kind: T / max|x| (calibration data), per operand
  std::map<std::string, std::vector<double>> threshold;   // per kind: T per operand
  double logit_sqnr_cal = 0, logit_sqnr_fixed = 0;
  double metric_cal = 0, metric_fixed = 0;
  double seconds = 0;
};

struct Options {
  fs::path pipeline_file;
  std::vector<std::string> overrides;
  std::int64_t batch_size = 16, batch_num = 4, samples = 256, eval_batch = 128;
  int threads = 1;
  bool paddle_compat = false;
  std::vector<std::string> dumps;  // "site:operand=file"
  std::vector<std::string> algos = quant::observer_algos();
};

// The options after PIPELINE.toml (argv[1]).
Options parse_args(int argc, char** argv) {
  Options opt;
  opt.pipeline_file = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "--set")
      opt.overrides.push_back(value());
    else if (a == "--batch-size")
      opt.batch_size = std::stoll(value());
    else if (a == "--batch-num")
      opt.batch_num = std::stoll(value());
    else if (a == "--samples")
      opt.samples = std::stoll(value());
    else if (a == "--threads")
      opt.threads = std::stoi(value());
    else if (a == "--algos")
      opt.algos = split_list(value());
    else if (a == "--paddle-compat")
      opt.paddle_compat = true;
    else if (a == "--dump")
      opt.dumps.push_back(value());
    else
      throw UsageError("unknown option " + a);
  }
  return opt;
}

// What every measurement reads: the task, the fp32 model, its features and its reference outputs.
struct Setup {
  std::shared_ptr<Task> task;
  std::string task_type;
  fs::path model_dir;
  io::LoadedModel loaded;
  std::shared_ptr<const FeatureSet> calibration, eval, sample;
  std::vector<at::Tensor> ref_logits;  // flat outputs of the fp32 model on `sample`
  Metrics fp32;
};

void load_setup(const Options& opt, core::PluginRegistry& registry, Setup& s) {
  const core::PipelineSpec spec = core::load_pipeline(opt.pipeline_file, opt.overrides, registry);
  if (!spec.task || !spec.model_path)
    throw Error(opt.pipeline_file.string() + ": needs a [task] table and [model] path");
  const core::PluginInfo* info = registry.find(spec.task->type);
  if (!info) throw Error("task plugin '" + spec.task->type + "' not found");
  s.task = core::PluginRegistry::create_task(*info);
  s.task_type = spec.task->type;
  configure_task(*s.task, resolve_params(info->schema, spec.task->params, "[task]"));
  s.model_dir = *spec.model_path;
  io::LoadOptions load;
  load.head = s.task->head().head;
  s.loaded = io::load_model(s.model_dir, load);
  nn::TaskModelImpl& model = *s.loaded.model;
  const auto tokenizer = text::WordPieceTokenizer::from_directory(s.model_dir);
  s.calibration = s.task->features("calibration", tokenizer, 0);
  s.eval = s.task->features("eval", tokenizer, 0);
  s.sample = quant::first_features(s.eval, opt.samples);
  torch::NoGradGuard no_grad;
  tasks::run_evaluation(model, *s.sample, opt.eval_batch, {},
                        [&](const Batch&, const nn::EncoderOutput& o) { s.ref_logits.push_back(flat_outputs(o)); });
  s.fp32 = s.task->evaluate(model, *s.eval, opt.eval_batch);
}

// max |x| per operand on the calibration features (the denominators of the ratio table).
std::map<quant::SiteOperandKey, double> max_abs_per_operand(const Options& opt, Setup& s) {
  nn::TaskModelImpl& model = *s.loaded.model;
  quant::CalibrationObservers obs(quant::activation_operands(model), "abs_max");
  tasks::run_evaluation(model, *quant::first_features(s.calibration, opt.batch_size * opt.batch_num), opt.batch_size,
                        obs.hook(), [](const Batch&, const nn::EncoderOutput&) {});
  return obs.thresholds();
}

// --dump SITE:OPERAND=FILE: that operand's calibration values as raw float32.
void write_dumps(const Options& opt, Setup& s) {
  for (const auto& d : opt.dumps) {
    const auto colon = d.rfind(':'), eq = d.find('=');
    if (colon == std::string::npos || eq == std::string::npos || eq < colon)
      throw UsageError("--dump expects SITE:OPERAND=FILE, got '" + d + "'");
    const quant::SiteOperandKey key{d.substr(0, colon), std::stoi(d.substr(colon + 1, eq - colon - 1))};
    std::ofstream out(d.substr(eq + 1), std::ios::binary);
    std::int64_t n = 0;
    tasks::run_evaluation(
        *s.loaded.model, *quant::first_features(s.calibration, opt.batch_size * opt.batch_num), opt.batch_size,
        [&](const std::string& site, int operand, const at::Tensor& v) {
          if (site == key.site && operand == key.operand) {
            const at::Tensor c = v.to(at::kFloat).contiguous().cpu();
            out.write(reinterpret_cast<const char*>(c.data_ptr<float>()),
                      static_cast<std::streamsize>(c.numel() * sizeof(float)));
            n += c.numel();
          }
          return v;
        },
        [](const Batch&, const nn::EncoderOutput&) {});
    if (!out || n == 0)
      throw Error("--dump " + d + ": nothing written (no such operand, or the file cannot be written)");
    std::cerr << "dumped " << n << " values of " << key.site << " operand " << key.operand << "\n";
  }
}

// One algorithm: calibrate with the probabilities calibrated and at T = 1, then measure operands and the whole model.
AlgoResult audit_algo(const std::string& algo, const Options& opt, Setup& s,
                      const std::map<quant::SiteOperandKey, double>& max_abs) {
  nn::TaskModelImpl& model = *s.loaded.model;
  const auto t0 = std::chrono::steady_clock::now();
  quant::PtqOptions o;
  o.algo = algo;
  o.batch_size = opt.batch_size;
  o.batch_num = opt.batch_num;
  o.observer.paddle_compat = opt.paddle_compat;
  o.probs_fixed_range = false;
  quant::PtqResult cal = quant::quantize_post_training(model, *s.calibration, o);
  o.probs_fixed_range = true;
  quant::PtqResult fixed = quant::quantize_post_training(model, *s.calibration, o);
  AlgoResult r;
  const auto& plan = cal.plan;
  for (const auto& [key, t] : plan.activation_thresholds) {
    r.ratio[kind_of(key)].push_back(t / max_abs.at(key));
    r.threshold[kind_of(key)].push_back(t);
  }
  // Operand errors through the fp32 model.
  nn::SiteHook measure = [&](const std::string& site, int operand, const at::Tensor& v) {
    const quant::SiteOperandKey key{site, operand};
    auto it = plan.activation_thresholds.find(key);
    if (it == plan.activation_thresholds.end()) return v;
    r.operand[kind_of(key)].add(v, quant::fake_quantize(v, it->second, plan.options));
    if (quant::is_attention_probs(key))
      r.probs_fixed.add(v, quant::fake_quantize(v, quant::kAttentionProbsThreshold, plan.options));
    return v;
  };
  tasks::run_evaluation(model, *s.sample, opt.eval_batch, measure, [](const Batch&, const nn::EncoderOutput&) {});
  // Whole model, both treatments of the probabilities.
  for (quant::PtqResult* p : {&cal, &fixed}) {
    quant::QuantErrorMeter logits;
    std::size_t i = 0;
    tasks::run_evaluation(
        *p->model, *s.sample, opt.eval_batch, quant::make_fake_quant_hook(p->plan),
        [&](const Batch&, const nn::EncoderOutput& out) { logits.add(s.ref_logits.at(i++), flat_outputs(out)); });
    const double metric =
        s.task->evaluate(*p->model, *s.eval, opt.eval_batch, quant::make_fake_quant_hook(p->plan)).value;
    (p == &cal ? r.logit_sqnr_cal : r.logit_sqnr_fixed) = logits.result().sqnr_db;
    (p == &cal ? r.metric_cal : r.metric_fixed) = metric;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << algo << ": " << fmt(r.seconds, 1) << " s\n";
  return r;
}

void print_header(const Options& opt, const Setup& s) {
  const nn::TaskModelImpl& model = *s.loaded.model;
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::cout << "# quant_site_audit\n\n";
  std::cout << "pipeline " << opt.pipeline_file.string() << ", model " << s.model_dir.string() << " ("
            << model.config().num_hidden_layers << " layers, hidden " << model.config().hidden_size << "), task "
            << s.task_type << "; calibration: first " << opt.batch_size * opt.batch_num << " features in batches of "
            << opt.batch_size << (opt.paddle_compat ? ", paddle_compat" : "") << "; operand SQNR over the first "
            << s.sample->size() << " eval features; metric over " << s.eval->size() << " eval features. " << date
            << ", " << cpu_model() << " (runtime ISA " << slimpipe_runtime::cpu_isa() << "), " << opt.threads
            << " thread(s).\n\n";
}

// The operand SQNR and threshold-ratio tables, a row per algorithm and a column per kind this model has.
void print_kind_tables(const std::vector<std::string>& algos, const std::map<std::string, AlgoResult>& results,
                       const std::map<quant::SiteOperandKey, double>& max_abs) {
  std::vector<Kind> kinds;
  for (const auto& k : kKinds)
    for (const auto& [algo, r] : results)
      if (r.operand.count(k.key)) {
        kinds.push_back(k);
        break;
      }
  // One table: a row per algorithm, a column per kind, cell(algo result, kind key) ("" when absent).
  auto kind_table = [&](const std::string& title,
                        const std::function<std::string(const AlgoResult&, const std::string&)>& cell) {
    std::cout << "## " << title << "\n\n| algo |";
    for (const auto& k : kinds) std::cout << " " << k.label << " |";
    std::cout << "\n|---|";
    for (std::size_t i = 0; i < kinds.size(); ++i) std::cout << "---:|";
    std::cout << "\n";
    for (const auto& algo : algos) {
      std::cout << "| " << algo << " |";
      for (const auto& k : kinds) std::cout << " " << cell(results.at(algo), k.key) << " |";
      std::cout << "\n";
    }
  };
  kind_table("Operand SQNR (dB), thresholds as each algorithm calibrates them",
             [](const AlgoResult& r, const std::string& k) {
               auto it = r.operand.find(k);
               return it == r.operand.end() ? std::string() : fmt(it->second.result().sqnr_db);
             });
  std::cout << "| P at T = 1 (any algo) |";
  for (const auto& k : kinds)
    std::cout << " " << (std::string(k.key) == "P" ? fmt(results.at(algos.front()).probs_fixed.result().sqnr_db) : "")
              << " |";
  std::cout << "\n\n";
  kind_table(
      "Threshold / max|x| on the calibration data (mean over the layers' operands; [min-max] when they differ by > "
      "0.05)",
      [](const AlgoResult& r, const std::string& k) {
        auto it = r.ratio.find(k);
        if (it == r.ratio.end()) return std::string();
        double sum = 0, lo = 1e300, hi = -1e300;
        for (double v : it->second) {
          sum += v;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        std::string out = fmt(sum / static_cast<double>(it->second.size()), 2);
        if (hi - lo > 0.05) out += " [" + fmt(lo, 2) + "-" + fmt(hi, 2) + "]";
        return out;
      });
  std::cout << "\nmax|x| of P per layer:";
  for (const auto& [key, m] : max_abs)
    if (quant::is_attention_probs(key)) std::cout << " " << fmt(m, 3);
  std::cout << "; KL's P thresholds:";
  if (results.count("KL"))
    for (double t : results.at("KL").threshold.at("P")) std::cout << " " << fmt(t, 3);
}

void print_whole_model(const std::vector<std::string>& algos, const std::map<std::string, AlgoResult>& results,
                       const Metrics& fp32) {
  std::cout << "\n\n## Whole model (fake quantization): probabilities calibrated (Paddle) vs T = 1 (default)\n\n";
  std::cout << "fp32 " << fp32.primary << ": " << fmt(fp32.value, 2) << "\n\n";
  std::cout << "| algo | logit SQNR, P calibrated | logit SQNR, P at T = 1 | " << fp32.primary
            << ", P calibrated | Δ | " << fp32.primary << ", P at T = 1 | Δ |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& algo : algos) {
    const AlgoResult& r = results.at(algo);
    std::cout << "| " << algo << " | " << fmt(r.logit_sqnr_cal) << " | " << fmt(r.logit_sqnr_fixed) << " | "
              << fmt(r.metric_cal, 2) << " | " << fmt(r.metric_cal - fp32.value, 2) << " | " << fmt(r.metric_fixed, 2)
              << " | " << fmt(r.metric_fixed - fp32.value, 2) << " |\n";
  }
}

int run(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cout << "usage: quant_site_audit PIPELINE.toml [--set key=value]... [--batch-size N] [--batch-num N] "
                 "[--samples N] [--threads N] [--algos a,b] [--paddle-compat]\n";
    return argc < 2 ? 2 : 0;
  }
  const Options opt = parse_args(argc, argv);
  at::set_num_threads(opt.threads);
  slimpipe_runtime::set_threads(opt.threads);

  core::PluginRegistry registry;
  registry.scan(core::PluginRegistry::search_path({}));
  Setup s;
  load_setup(opt, registry, s);
  torch::NoGradGuard no_grad;
  const std::map<quant::SiteOperandKey, double> max_abs = max_abs_per_operand(opt, s);
  write_dumps(opt, s);
  std::map<std::string, AlgoResult> results;
  for (const auto& algo : opt.algos) results[algo] = audit_algo(algo, opt, s, max_abs);

  print_header(opt, s);
  print_kind_tables(opt.algos, results, max_abs);
  print_whole_model(opt.algos, results, s.fp32);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "quant_site_audit: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "quant_site_audit: " << e.what() << "\n";
    return 1;
  }
}
