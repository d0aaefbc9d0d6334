// libFuzzer target: a pipeline file through slimpipe::core::parse_pipeline (TOML, `--set key=value` overrides,
// ${ENV} substitution, the checks against the plugins' schemas), then make_plan for the pipelines that pass.
// Input: the pipeline's TOML text. Its comment lines "#@set key.path=value" (at most 4) are also passed as --set
// overrides, and "#@env VALUE" sets the environment variable SLIMPIPE_FUZZ_ENV (unset without one), so seeds read
// ${SLIMPIPE_FUZZ_ENV} and ${SLIMPIPE_FUZZ_ENV:-default}.
// Plugins: the in-tree ones and the test plugins of this build (their schemas are what pipelines are checked
// against), loaded once.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"
#include "slimpipe/error.hpp"

namespace {

using namespace slimpipe::core;

const PluginRegistry& registry() {
  static const PluginRegistry* reg = [] {
    auto* r = new PluginRegistry;
    r->scan({SLIMPIPE_FUZZ_PLUGIN_DIR, SLIMPIPE_FUZZ_TEST_PLUGIN_DIR});
    return r;
  }();
  return *reg;
}

// make_plan expands every matrix and fans nodes out per upstream artifact: instances multiply along a chain.
// An upper bound of the instance count (the product of every node's cells); the harness plans only pipelines
// under kMaxPlanned so that a short input cannot ask for 10^20 instances (the planner itself sets no limit).
constexpr double kMaxPlanned = 4096;

double instance_bound(const PipelineSpec& spec) {
  double total = 1;
  for (const NodeSpec& n : spec.nodes) {
    double cells = 1;
    for (const MatrixAxis& a : n.matrix.axes) cells *= static_cast<double>(std::max<std::size_t>(1, a.values.size()));
    cells += static_cast<double>(n.matrix.include.size());
    total *= cells;
    if (total > kMaxPlanned) break;
  }
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const PluginRegistry& r = registry();
  if (r.plugins().empty()) {
    std::fprintf(stderr, "fuzz_pipeline: no plugin found in %s or %s\n", SLIMPIPE_FUZZ_PLUGIN_DIR,
                 SLIMPIPE_FUZZ_TEST_PLUGIN_DIR);
    std::abort();
  }
  for (const auto& p : r.problems()) std::fprintf(stderr, "fuzz_pipeline: plugin refused: %s\n", p.message.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  bool env = false;
  for (std::string_view line : slimpipe_fuzz::split(text, "\n", SIZE_MAX)) {
    if (line.substr(0, 6) == "#@set " && overrides.size() < 4) {
      overrides.emplace_back(line.substr(6));
    } else if (line.substr(0, 6) == "#@env ") {
      const std::string value(line.substr(6));
      ::setenv("SLIMPIPE_FUZZ_ENV", value.c_str(), 1);
      env = true;
    }
  }
  if (!env) ::unsetenv("SLIMPIPE_FUZZ_ENV");
  try {
    const PipelineSpec spec =
        parse_pipeline(text, slimpipe_fuzz::scratch_dir() / "pipelines" / "fuzz.toml", overrides, registry());
    if (instance_bound(spec) <= kMaxPlanned) {
      const Plan plan = make_plan(spec);
      (void)plan.ids();
      if (!plan.instances.empty()) (void)plan.descendants(plan.match(plan.instances.back().id));
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_pipeline");
  }
  return 0;
}
