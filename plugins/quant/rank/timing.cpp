// rank's timing (timing.hpp).
#include "timing.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/quant/ptq.hpp"

namespace slimpipe::ranking {

namespace {

// One visit: load, warm up, time every batch size; the runs are appended to t.ms.
void time_once(Timing& t, const BenchSettings& b) {
  if (t.runtime_dir.empty()) return;
  try {
    const exporter::PackageTiming timed = exporter::time_runtime_package(t.runtime_dir, b.options);
    t.precision = timed.precision;
    t.ms.resize(timed.ms.size());
    for (std::size_t i = 0; i < timed.ms.size(); ++i)
      t.ms[i].insert(t.ms[i].end(), timed.ms[i].begin(), timed.ms[i].end());
  } catch (const std::exception& e) {
    t.note = std::string("not timed: ") + e.what();
    t.runtime_dir.clear();
    t.ms.clear();
  }
}

void summarize(Timing& t) {
  t.p50.clear();
  t.p90.clear();
  if (t.runtime_dir.empty()) return;
  for (const auto& runs : t.ms) {
    t.p50.push_back(exporter::percentile(runs, 0.5));
    t.p90.push_back(exporter::percentile(runs, 0.9));
  }
}

}  // namespace

void prepare_runtime(Timing& t, const fs::path& scratch, Task* task, const std::string& device) {
  if (fs::exists(t.model_dir / "runtime" / exporter::kRuntimeJson)) {
    t.runtime_dir = t.model_dir / "runtime";
    return;
  }
  if (!task) {
    t.note = "not timed: no runtime/ export, and without a [task] the model's head is unknown";
    return;
  }
  // scratch/model_<hash>/runtime: the package takes its tokenizer from the folder it sits in (PackageSettings),
  // so the candidate's vocab.txt and tokenizer_config.json are copied beside it; the best candidate's export is
  // published as rank/runtime/ and must run from text like any other package.
  const fs::path holder = scratch / ("model_" + std::to_string(std::hash<std::string>{}(t.model_dir.string())));
  const fs::path dir = holder / "runtime";
  try {
    fs::create_directories(holder);
    for (const char* f : {"vocab.txt", "tokenizer_config.json"})
      if (fs::exists(t.model_dir / f)) fs::copy_file(t.model_dir / f, holder / f, fs::copy_options::overwrite_existing);
    io::LoadOptions load;
    load.head = task->head().head;
    load.device = device;
    io::LoadedModel model = io::load_model(t.model_dir, load);
    model.model->to(at::kCPU);
    if (t.kind == "quantized_model")
      exporter::export_runtime(*model.model, quant::load_plan(t.model_dir), dir);
    else
      exporter::export_runtime(*model.model, dir);
    t.runtime_dir = dir;
    t.exported_here = true;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(holder, ec);
    t.note = std::string("not timed: ") + e.what();
  }
}

void time_all(const std::vector<Timing*>& all, const BenchSettings& b, Context& ctx) {
  auto rounds = [&](const std::vector<Timing*>& models, const std::string& phase) {
    ctx.progress().begin(phase, static_cast<std::int64_t>(models.size()) * b.rounds);
    std::int64_t done = 0;
    for (int r = 0; r < b.rounds; ++r) {
      for (std::size_t k = 0; k < models.size(); ++k) {
        Timing& t = *models[r % 2 == 0 ? k : models.size() - 1 - k];
        time_once(t, b);
        ctx.progress().update(++done);
        ctx.throw_if_cancelled();
      }
    }
    ctx.progress().end();
    for (Timing* t : models) summarize(*t);
  };
  rounds(all, "bench");
  for (int retry = 0; retry < b.retries; ++retry) {
    std::vector<Timing*> spread;
    for (Timing* t : all)
      if (t->timed() && t->spread() > b.max_spread) spread.push_back(t);
    if (spread.empty()) break;
    for (Timing* t : spread) {
      t->ms.clear();  // the new rounds replace the disturbed ones
      t->remeasured += b.rounds;
    }
    rounds(spread, "bench (re-measuring " + std::to_string(spread.size()) + " spread)");
  }
  for (Timing* t : all) t->noisy = t->timed() && t->spread() > b.max_spread;
}

std::string omp_wait_policy() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy ? policy : "default";
}

}  // namespace slimpipe::ranking
