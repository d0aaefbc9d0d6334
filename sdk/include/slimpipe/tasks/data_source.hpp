// Parameters every task plugin shares: where its data comes from (files or a synthetic source),
// the split names it answers to, and the sequence length it tokenizes to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::tasks {

enum class DataSplit { Train, Eval };

// "train" -> Train; "eval" and "calibration" -> Eval. Throws Error naming
// `task` for any other name.
SLIMPIPE_API DataSplit parse_split(const std::string& split, const std::string& task);

// Adds source, train, eval, max_seq_length, synthetic_train_size, synthetic_eval_size and
// synthetic_seed to `schema`.
SLIMPIPE_API Schema& add_data_source_params(Schema& schema, std::int64_t default_max_seq_length);

struct SLIMPIPE_API DataSource {
  bool synthetic = false;
  std::string train, eval;  // files (source = "file"); either may be empty
  std::size_t synthetic_train_size = 0, synthetic_eval_size = 0;
  std::uint64_t synthetic_seed = 0;  // the train split; eval uses synthetic_seed + 1
  std::int64_t max_seq_length = 128;

  // Reads and checks the parameters added by add_data_source_params; errors name `task` and the
  // parameter ("[task] seq_cls: source = \"file\" needs train or eval").
  static DataSource from_params(const Params& params, const std::string& task);

  // The caller's max_seq_length when > 0, else the task's own.
  std::int64_t sequence_length(std::int64_t requested) const { return requested > 0 ? requested : max_seq_length; }
  // The file of `split`; throws Error naming the parameter when it was not given.
  const std::string& file(DataSplit split, const std::string& task) const;
  std::uint64_t seed(DataSplit split) const { return split == DataSplit::Train ? synthetic_seed : synthetic_seed + 1; }
  std::size_t size(DataSplit split) const {
    return split == DataSplit::Train ? synthetic_train_size : synthetic_eval_size;
  }
};

}  // namespace slimpipe::tasks
