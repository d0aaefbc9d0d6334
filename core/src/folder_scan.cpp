// The state of every instance in a run folder (folder_scan.hpp).
#include "folder_scan.hpp"

#include <algorithm>

#include "instance_outputs.hpp"

namespace slimpipe::core {

const char* to_string(FolderState s) {
  switch (s) {
    case FolderState::Finished:
      return "finished";
    case FolderState::Failed:
      return "failed";
    case FolderState::Ready:
      return "pending";
    case FolderState::Waiting:
      return "waiting";
    case FolderState::Blocked:
      return "blocked";
  }
  return "?";
}

FolderScan::FolderScan(const PipelineSpec& spec, const Plan& plan, const Lockfile& lock)
    : spec_(spec),
      plan_(plan),
      task_hashes_(task_hashes_of(spec)),
      data_ids_(spec, lock),
      rows_(plan.instances.size()),
      keys_(plan.instances.size()),
      artifacts_(plan.instances.size()) {}

void FolderScan::scan(const Lockfile& lock) {
  for (std::size_t i = 0; i < plan_.instances.size(); ++i) {
    artifacts_[i].clear();
    rows_[i] = FolderRow{};
    scan_one(i, lock);
  }
}

std::vector<Artifact> FolderScan::inputs_of(std::size_t i) const {
  std::vector<Artifact> inputs;
  for (const auto& r : plan_.instances[i].inputs) {
    const Instance& up = plan_.instances[r.instance];
    const auto pos = std::find(up.outputs.begin(), up.outputs.end(), r.output) - up.outputs.begin();
    inputs.push_back(artifacts_[r.instance].at(static_cast<std::size_t>(pos)));
  }
  return inputs;
}

void FolderScan::scan_one(std::size_t i, const Lockfile& lock) {
  const Instance& inst = plan_.instances[i];
  FolderRow& row = rows_[i];
  if (inst.is_model()) {
    const InstanceOutcome oc = use_input_model(inst, spec_.output_dir, artifacts_[i]);
    row.state = oc.status == Status::Failed ? FolderState::Failed : FolderState::Finished;
    row.reason = oc.reason;
    return;
  }
  for (const auto& r : inst.inputs) {
    const FolderState s = rows_[r.instance].state;
    if (s == FolderState::Finished) continue;
    row.input = plan_.instances[r.instance].id;
    const bool dead = s == FolderState::Failed || s == FolderState::Blocked;
    row.state = dead ? FolderState::Blocked : FolderState::Waiting;
    row.reason = dead ? "input " + row.input + " " + to_string(s) : "waits for input " + row.input;
    return;
  }
  std::vector<std::string> in_hashes;
  for (const auto& a : inputs_of(i)) in_hashes.push_back(a.hash());
  const NodeSpec& node = spec_.nodes[inst.node];
  keys_[i] = cache_key(inst, *node.plugin, in_hashes, task_hashes_.of(inst), data_ids_.of(inst));
  const std::optional<LockEntry> entry = lock.find(inst.id);
  std::string reason = stale_reason(inst, plan_, keys_[i], entry, spec_.output_dir);
  if (reason.empty() && load_stored(inst, artifacts_[i], &reason)) {
    row.state = FolderState::Finished;
    row.reason = "up to date";
    return;
  }
  if (entry && entry->status == "failed" && entry->hash == keys_[i].hash) {
    row.state = FolderState::Failed;
    row.reason = entry->error;
    row.finished = entry->finished;
    return;
  }
  row.state = FolderState::Ready;
  row.reason = reason;
}

std::vector<FolderRow> scan_run_folder(const PipelineSpec& spec, const Plan& plan, std::vector<std::string>* warnings) {
  Lockfile lock(spec.output_dir);
  lock.load();
  if (warnings) *warnings = lock.warnings();
  FolderScan scan(spec, plan, lock);
  scan.scan(lock);
  return scan.rows();
}

}  // namespace slimpipe::core
