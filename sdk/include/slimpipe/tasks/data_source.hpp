// Parameters every task plugin shares: where its data comes from (files or a synthetic source),
// the split names it answers to, the dev split (a file, a synthetic split, or carved out of train), the
// held-out test split (a file, a synthetic split, or carved out of eval or train), and the sequence
// length it tokenizes to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::tasks {

// Train: fitting. Eval (dev): every choice (best checkpoint, importance, calibration, ranking, fallback).
// Test: held out, read only to report a final model's figure.
enum class DataSplit { Train, Eval, Test };

SLIMPIPE_API const char* to_string(DataSplit split);

// "train" -> Train; "eval" and "calibration" -> Eval; "test" -> Test. Throws Error naming
// `task` for any other name.
SLIMPIPE_API DataSplit parse_split(const std::string& split, const std::string& task);

// Adds source, train, eval, test, max_seq_length, synthetic_train_size, synthetic_eval_size,
// synthetic_test_size, synthetic_seed, eval_from, eval_fraction, eval_size, eval_seed, test_from,
// test_fraction, test_size and test_seed to `schema`.
SLIMPIPE_API Schema& add_data_source_params(Schema& schema, std::int64_t default_max_seq_length);

// The [task] parameters that only the test split depends on (the test file, synthetic_test_size). A
// pipeline's task hash leaves them out for instances that do not read test, so adding a test file
// reruns no training, pruning or calibration; carving parameters (test_from, ...) change eval or train,
// so they stay in every instance's hash.
SLIMPIPE_API const std::vector<std::string>& test_only_params();

// Whether a strategy instance with these (resolved) parameters reads the test split: `split = "test"`
// (evaluate) or `report_test = true` (a plugin that reports final models on test beside dev). The host
// adds the test-only task parameters to the cache key of exactly these instances.
SLIMPIPE_API bool reads_test_split(const Json& instance_params);

struct SLIMPIPE_API DataSource {
  bool synthetic = false;
  std::string train, eval, test;  // files (source = "file"); any may be empty. test is read only when asked for
  std::size_t synthetic_train_size = 0, synthetic_eval_size = 0, synthetic_test_size = 0;  // test: 0 = none
  std::uint64_t synthetic_seed = 0;  // the train split; eval uses synthetic_seed + 1, test synthetic_seed + 2
  std::int64_t max_seq_length = 128;
  // Carving (source = "file", no test file): "" (none), "eval" or "train". test_size units when > 0,
  // else round(test_fraction × units); units are what must not be split (seq_cls examples, stratified by
  // label; token_cls sentences; qa articles).
  std::string test_from;
  double test_fraction = 0;
  std::size_t test_size = 0;
  std::uint64_t test_seed = 0;
  // Carving the dev split (source = "file", no eval file): "" (none) or "train", with the same units and
  // rules as the test carving. It is drawn first; test_from = "train" then draws from what train keeps.
  std::string eval_from;
  double eval_fraction = 0;
  std::size_t eval_size = 0;
  std::uint64_t eval_seed = 0;

  // Reads and checks the parameters added by add_data_source_params; errors name `task` and the
  // parameter ("[task] seq_cls: source = \"file\" needs train or eval").
  static DataSource from_params(const Params& params, const std::string& task);

  // The caller's max_seq_length when > 0, else the task's own.
  std::int64_t sequence_length(std::int64_t requested) const { return requested > 0 ? requested : max_seq_length; }
  // The file of `split`; throws Error naming the parameter when it was not given (for test: when there is
  // no test split). A carved split has no file and gives "".
  const std::string& file(DataSplit split, const std::string& task) const;
  const std::string& file_or_empty(DataSplit split) const;
  std::uint64_t seed(DataSplit split) const {
    return synthetic_seed + (split == DataSplit::Train ? 0 : split == DataSplit::Eval ? 1 : 2);
  }
  std::size_t size(DataSplit split) const {
    return split == DataSplit::Train  ? synthetic_train_size
           : split == DataSplit::Eval ? synthetic_eval_size
                                      : synthetic_test_size;
  }

  bool carves() const { return !test_from.empty(); }
  bool carves_eval() const { return !eval_from.empty(); }
  // Whether the split has data: a file, the synthetic source or a carving.
  bool has(DataSplit split) const {
    if (split == DataSplit::Test) return has_test();
    return synthetic || !file_or_empty(split).empty() || (split == DataSplit::Eval && carves_eval());
  }
  // The split the test carving draws from.
  DataSplit carved_from() const { return test_from == "train" ? DataSplit::Train : DataSplit::Eval; }
  // The split the carving of `target` (Eval or Test) draws from.
  DataSplit carved_from(DataSplit target) const { return target == DataSplit::Eval ? DataSplit::Train : carved_from(); }
  bool has_test() const { return synthetic ? synthetic_test_size > 0 : !test.empty() || carves(); }
  // Throws Error naming the parameters to set when there is no test split.
  void require_test(const std::string& task) const;

  // The indices (ascending) of the examples of carved_from(target) that move to `target` (Eval: the
  // eval_* parameters; Test: the test_* ones). `unit_of[i]` is example i's unit (examples of one unit
  // move together; dense ids from 0); `stratum_of_unit[u]` balances the draw (seq_cls: the label; one
  // stratum elsewhere): each stratum gives its share by largest remainder, its units drawn with
  // SplitMix64(seed). Throws Error, naming the parameter, when the draw would leave `target` or the rest
  // empty. `what` names the units in messages ("examples").
  std::vector<std::size_t> carve(DataSplit target, const std::vector<std::size_t>& unit_of,
                                 const std::vector<std::int64_t>& stratum_of_unit, const std::string& task,
                                 const std::string& what) const;

  // How a split is made, for metrics files and reports: {"split", "source": "file" | "synthetic" |
  // "carved", and "file"; "size", "seed"; "from", "fraction" or "size", "seed", "by"}; a split something
  // was carved out of says so ("eval_carved_out", "test_carved_out").
  Json describe(DataSplit split, const std::string& carved_by = "") const;
};

// Moves the examples at `indices` (ascending, from DataSource::carve) out of `from`, in order.
template <typename Example>
std::vector<Example> take_examples(std::vector<Example>& from, const std::vector<std::size_t>& indices) {
  std::vector<Example> taken, kept;
  taken.reserve(indices.size());
  kept.reserve(from.size() - indices.size());
  std::size_t next = 0;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (next < indices.size() && indices[next] == i) {
      taken.push_back(std::move(from[i]));
      ++next;
    } else {
      kept.push_back(std::move(from[i]));
    }
  }
  from = std::move(kept);
  return taken;
}

// The test split of a task: set at configure (synthetic, carved) or read from its file on first use, so a
// test file is never opened unless test is asked for. Thread-safe.
template <typename Dataset>
class HeldOutSplit {
 public:
  void set(std::shared_ptr<const Dataset> dataset) {
    std::lock_guard<std::mutex> lock(mutex_);
    dataset_ = std::move(dataset);
  }
  // The dataset, reading it with `read()` (returning a Dataset) the first time; a read that throws is
  // tried again by the next call.
  template <typename Read>
  std::shared_ptr<const Dataset> get(Read read) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!dataset_) dataset_ = std::make_shared<const Dataset>(read());
    return dataset_;
  }
  // Null while not read.
  std::shared_ptr<const Dataset> loaded() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return dataset_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Dataset> dataset_;
};

// DataSource::describe of `split`, with "examples" where known (a test file not read yet has none).
template <typename Dataset>
Json describe_split(const DataSource& source, DataSplit split, const std::string& carved_by, const Dataset& train,
                    const Dataset& eval, const HeldOutSplit<Dataset>& test) {
  Json j = source.describe(split, carved_by);
  const std::shared_ptr<const Dataset> read = test.loaded();
  const Dataset* d = split == DataSplit::Train ? &train : split == DataSplit::Eval ? &eval : read.get();
  if (d) j["examples"] = d->examples.size();
  return j;
}

// A side interface of the in-tree tasks (found with dynamic_cast, as ExampleScoring): which splits the
// task has and how they were made. rank and report use it to show test beside dev, and say when test
// was carved.
class SLIMPIPE_API SplitInfo {
 public:
  virtual ~SplitInfo();
  virtual bool has_split(DataSplit split) const = 0;
  // DataSource::describe of the split, with "examples" where they are known (a test file is counted once read).
  virtual Json split_info(DataSplit split) const = 0;
};

}  // namespace slimpipe::tasks
