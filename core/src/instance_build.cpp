// Building one instance (instance_build.hpp).
#include "instance_build.hpp"

#include <chrono>

#include "instance_context.hpp"
#include "instance_outputs.hpp"
#include "slimpipe/core/plugin_registry.hpp"

namespace slimpipe::core {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

InstanceOutcome build_instance(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                               const std::string& reason, const CacheKey& key, BuildEnv& env,
                               std::vector<Artifact>& artifacts) {
  const auto t0 = Clock::now();
  std::error_code ec;
  InstanceLogger logger(inst.id, env.console);
  env.console.instance_started(inst.id);
  logger.info("running: " + reason);
  const std::string stem = safe_name(inst.id);
  const fs::path tmp = env.tmp_root / stem;
  const fs::path scratch = env.tmp_root / (stem + ".scratch");
  LockEntry le = entry_for(inst, key);
  try {
    std::map<std::string, OutputArtifact> outputs = make_outputs(inst, tmp);
    InstanceContext ctx(inst.id, logger, env.console, env.seed, env.device, env.threads, scratch, env.task, outputs);
    auto strategy = PluginRegistry::create_strategy(*node.plugin);
    strategy->run(ctx, inputs, Params(inst.params));
    if (fs::exists(scratch)) fs::remove_all(scratch);
    if (env.before_publish) env.before_publish(inst.id);
    const std::vector<Json> manifests =
        publish_outputs(inst, node, inputs, outputs, tmp, env.tmp_root / (stem + ".old"), env.output_dir, le);
    for (std::size_t k = 0; k < inst.outputs.size(); ++k)
      artifacts.emplace_back(manifests[k]["id"].get<std::string>(), inst.output_dir(inst.outputs[k]), manifests[k]);
    le.status = "done";
    le.seconds = seconds_since(t0);
    le.finished = utc_now_iso();
    env.lock.record(le);
    logger.info("done in " + std::to_string(le.seconds).substr(0, 6) + " s");
    return {Status::Done, reason, le.seconds};
  } catch (const Cancelled&) {
    fs::remove_all(tmp, ec);
    fs::remove_all(scratch, ec);
    logger.warn("interrupted; nothing of this instance was kept");
    return {Status::Cancelled, "interrupted", seconds_since(t0)};
  } catch (const ClaimLost& e) {
    fs::remove_all(tmp, ec);
    fs::remove_all(scratch, ec);
    logger.warn(e.what());
    return {Status::Cancelled, e.what(), seconds_since(t0)};
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    fs::remove_all(scratch, ec);
    le.status = "failed";
    le.error = e.what();
    le.seconds = seconds_since(t0);
    le.finished = utc_now_iso();
    try {
      env.lock.record(le);
    } catch (const std::exception&) {  // a full disk: the failure is still reported
    }
    logger.error(e.what());
    return {Status::Failed, e.what(), le.seconds};
  }
}

void run_without_publishing(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                            const fs::path& scratch, BuildEnv& env) {
  InstanceLogger logger(inst.id, env.console);
  std::error_code ec;
  try {
    fs::create_directories(scratch);
    std::map<std::string, OutputArtifact> outputs = make_outputs(inst, scratch / "out");
    InstanceContext ctx(inst.id, logger, env.console, env.seed, env.device, env.threads, scratch / "scratch", env.task,
                        outputs);
    auto strategy = PluginRegistry::create_strategy(*node.plugin);
    strategy->run(ctx, inputs, Params(inst.params));
  } catch (...) {
    fs::remove_all(scratch, ec);
    throw;
  }
  fs::remove_all(scratch, ec);
}

std::shared_ptr<Task> make_run_task(const PipelineSpec& spec) {
  std::shared_ptr<Task> task;
  if (spec.task && spec.task->plugin) {
    const Json tparams = resolve_path_params(
        spec.task->plugin->schema, resolve_params(spec.task->plugin->schema, spec.task->params, "[task]").json(),
        spec.base_dir);
    task = PluginRegistry::create_task(*spec.task->plugin);
    configure_task(*task, Params(tparams));
  }
  return task;
}

}  // namespace slimpipe::core
