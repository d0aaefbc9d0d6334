// Where a task's data comes from: the parameters shared by seq_cls, token_cls and qa, checked
// once at configure() so that a wrong combination fails before any model is built.
#include "slimpipe/tasks/data_source.hpp"

#include "slimpipe/error.hpp"

namespace slimpipe::tasks {

DataSplit parse_split(const std::string& split, const std::string& task) {
  if (split == "train") return DataSplit::Train;
  if (split == "eval" || split == "calibration") return DataSplit::Eval;
  throw Error("task " + task + ": unknown split '" + split + "' (expected train, eval or calibration)");
}

Schema& add_data_source_params(Schema& schema, std::int64_t default_max_seq_length) {
  return schema.param("source", ParamType::String, "file", "where the examples come from", {"file", "synthetic"})
      .param("train", ParamType::Path, "", "training file (source = \"file\")")
      .param("eval", ParamType::Path, "", "evaluation file (source = \"file\"); also the calibration split")
      .param("max_seq_length", ParamType::Int, default_max_seq_length,
             "tokens per feature, special tokens included, when the caller does not set one")
      .param("synthetic_train_size", ParamType::Int, 2000, "examples in the synthetic train split")
      .param("synthetic_eval_size", ParamType::Int, 500, "examples in the synthetic eval split")
      .param("synthetic_seed", ParamType::Int, 1, "seed of the synthetic train split; eval uses seed + 1");
}

DataSource DataSource::from_params(const Params& params, const std::string& task) {
  const std::string where = "[task] " + task + ": ";
  DataSource d;
  d.synthetic = params.get_string("source") == "synthetic";
  d.train = params.get_string("train");
  d.eval = params.get_string("eval");
  d.max_seq_length = params.get_int("max_seq_length");
  if (d.max_seq_length < 8) {
    throw UsageError(where + "max_seq_length must be at least 8, got " + std::to_string(d.max_seq_length));
  }
  const std::int64_t train_size = params.get_int("synthetic_train_size");
  const std::int64_t eval_size = params.get_int("synthetic_eval_size");
  const std::int64_t seed = params.get_int("synthetic_seed");
  if (d.synthetic) {
    if (!d.train.empty() || !d.eval.empty()) {
      throw UsageError(where + "train and eval are files for source = \"file\"; remove them or set source = \"file\"");
    }
    if (train_size < 1)
      throw UsageError(where + "synthetic_train_size must be at least 1, got " + std::to_string(train_size));
    if (eval_size < 1) throw UsageError(where + "synthetic_eval_size must be at least 1, got " + std::to_string(eval_size));
    if (seed < 0) throw UsageError(where + "synthetic_seed must not be negative, got " + std::to_string(seed));
  } else if (d.train.empty() && d.eval.empty()) {
    throw UsageError(where + "source = \"file\" needs train or eval (or set source = \"synthetic\")");
  }
  d.synthetic_train_size = static_cast<std::size_t>(train_size);
  d.synthetic_eval_size = static_cast<std::size_t>(eval_size);
  d.synthetic_seed = static_cast<std::uint64_t>(seed);
  return d;
}

const std::string& DataSource::file(DataSplit split, const std::string& task) const {
  const std::string& path = split == DataSplit::Train ? train : eval;
  if (path.empty()) {
    const char* name = split == DataSplit::Train ? "train" : "eval";
    throw Error("[task] " + task + ": the " + name + " split was asked for but no file is set (" + name +
                " = \"...\")");
  }
  return path;
}

}  // namespace slimpipe::tasks
