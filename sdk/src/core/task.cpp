// Out-of-line parts of the Task interface (LibTorch types; kept out of interfaces.cpp so the
// torch-free SDK core compiles fast).
#include "slimpipe/task.hpp"

#include "slimpipe/export/runtime_package.hpp"

namespace slimpipe {

Task::~Task() = default;
FeatureSet::~FeatureSet() = default;

void configure_task(Task& task, const Params& params) {
  task.configure(params);
  // max_seq_length, doc_stride, max_query_length: what runtime packages written in this run record.
  exporter::record_task_package_settings(params);
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
