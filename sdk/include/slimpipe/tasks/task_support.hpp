// Pieces every in-tree task plugin needs and would otherwise repeat: a batch's training target by name, and the
// carving of a split (eval_from, test_from) out of a dataset.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/tasks/data_source.hpp"

namespace slimpipe::tasks {

// The target `name` of `batch` ("labels", "start_positions", ...); Error "<task>: the batch has no '<name>'
// target" when the batch lacks it.
inline const at::Tensor& batch_target(const Batch& batch, const std::string& name, const std::string& task) {
  auto it = batch.targets.find(name);
  if (it == batch.targets.end()) throw Error(task + ": the batch has no '" + name + "' target");
  return it->second;
}

// The carving of `target` (Eval or Test) out of `from` (a dataset with `source` and `examples`): the
// examples DataSource::carve draws (`unit_of`, `stratum_of_unit`, `task` and `what` as there) move, in order,
// out of `from` into the returned dataset, whose source is from's with " (carved eval)" or " (carved test)".
// Other fields (labels) are the caller's to copy.
template <typename Dataset>
Dataset carve_dataset(const DataSource& source, DataSplit target, Dataset& from,
                      const std::vector<std::size_t>& unit_of, const std::vector<std::int64_t>& stratum_of_unit,
                      const std::string& task, const std::string& what) {
  Dataset carved;
  carved.source = from.source + " (carved " + to_string(target) + ")";
  carved.examples = take_examples(from.examples, source.carve(target, unit_of, stratum_of_unit, task, what));
  return carved;
}

}  // namespace slimpipe::tasks
