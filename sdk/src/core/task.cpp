// Out-of-line parts of the Task interface (LibTorch types; kept out of interfaces.cpp so the
// torch-free SDK core compiles fast).
#include "slimpipe/task.hpp"

#include <map>
#include <memory>
#include <mutex>

#include "slimpipe/export/runtime_package.hpp"

namespace slimpipe {
namespace {

// The package scope of every configured task that is alive, ended by its destructor. Never destroyed, so that a
// task destroyed during static destruction still finds it.
struct TaskScopes {
  std::mutex mutex;
  std::map<const Task*, std::unique_ptr<exporter::TaskPackageScope>> of;
};
TaskScopes& task_scopes() {
  static TaskScopes* scopes = new TaskScopes;
  return *scopes;
}

}  // namespace

Task::~Task() {
  TaskScopes& s = task_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.of.erase(this);
}

FeatureSet::~FeatureSet() = default;

void configure_task(Task& task, const Params& params) {
  task.configure(params);
  // The [task]'s lengths and decoding options: what the runtime packages written while the task lives record.
  // A task configured again gets a new scope (in force at once) and its old one ends.
  auto scope = std::make_unique<exporter::TaskPackageScope>(params);
  TaskScopes& s = task_scopes();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.of[&task] = std::move(scope);
}

Batch Batch::to(const c10::Device& device) const {
  Batch b;
  auto move = [&](const at::Tensor& t) { return t.defined() ? t.to(device) : t; };
  b.inputs.input_ids = move(inputs.input_ids);
  b.inputs.token_type_ids = move(inputs.token_type_ids);
  b.inputs.attention_mask = move(inputs.attention_mask);
  b.inputs.task_type_ids = move(inputs.task_type_ids);
  b.inputs.head_mask = move(inputs.head_mask);
  for (const auto& [k, v] : targets) b.targets[k] = move(v);
  b.features = features;
  return b;
}

Json Metrics::to_json() const {
  Json j = all;
  j[primary] = value;
  return Json{{"primary", primary}, {"value", value}, {"all", j}};
}

}  // namespace slimpipe
