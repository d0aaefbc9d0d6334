// Where a task's data comes from: the parameters shared by seq_cls, token_cls and qa, checked
// once at configure() so that a wrong combination fails before any model is built, and the seeded,
// stratified draws that carve a dev split out of train and a test split out of eval or train.
#include "slimpipe/tasks/data_source.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "slimpipe/data/random.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::tasks {

SplitInfo::~SplitInfo() = default;

const char* to_string(DataSplit split) {
  switch (split) {
    case DataSplit::Train:
      return "train";
    case DataSplit::Eval:
      return "eval";
    case DataSplit::Test:
      return "test";
  }
  return "?";
}

DataSplit parse_split(const std::string& split, const std::string& task) {
  if (split == "train") return DataSplit::Train;
  if (split == "eval" || split == "calibration") return DataSplit::Eval;
  if (split == "test") return DataSplit::Test;
  throw Error("task " + task + ": unknown split '" + split + "' (expected train, eval, calibration or test)");
}

Schema& add_data_source_params(Schema& schema, std::int64_t default_max_seq_length) {
  return schema.param("source", ParamType::String, "file", "where the examples come from", {"file", "synthetic"})
      .param("train", ParamType::Path, "", "training file (source = \"file\")")
      .param("eval", ParamType::Path, "",
             "evaluation (dev) file (source = \"file\"); every choice is made on it; also the calibration split")
      .param(
          "test", ParamType::Path, "",
          "held-out test file (source = \"file\"), same format as eval; read only when a final model is scored on test")
      .param("max_seq_length", ParamType::Int, default_max_seq_length,
             "tokens per feature, special tokens included, when the caller does not set one")
      .param("synthetic_train_size", ParamType::Int, 2000, "examples in the synthetic train split")
      .param("synthetic_eval_size", ParamType::Int, 500, "examples in the synthetic eval split")
      .param("synthetic_test_size", ParamType::Int, 500, "examples in the synthetic test split; 0: no test split")
      .param("synthetic_seed", ParamType::Int, 1,
             "seed of the synthetic train split; eval uses seed + 1, test seed + 2")
      .param("eval_from", ParamType::String, "",
             "source = \"file\" without an eval file: carve the dev split out of \"train\" (removed from it) before "
             "any test carving; \"\": no carving",
             {"", "train"})
      .param("eval_fraction", ParamType::Float, 0.0,
             "with eval_from: the share of units carved (seq_cls examples by label, token_cls sentences, qa articles)")
      .param("eval_size", ParamType::Int, 0, "with eval_from: how many units are carved (instead of eval_fraction)")
      .param("eval_seed", ParamType::Int, 2, "with eval_from: seed of the draw")
      .param(
          "test_from", ParamType::String, "",
          "source = \"file\" without a test file: carve the test split out of \"eval\" or \"train\" (removed from it); "
          "\"\": no carving",
          {"", "eval", "train"})
      .param("test_fraction", ParamType::Float, 0.0,
             "with test_from: the share of units carved (seq_cls examples by label, token_cls sentences, qa articles)")
      .param("test_size", ParamType::Int, 0, "with test_from: how many units are carved (instead of test_fraction)")
      .param("test_seed", ParamType::Int, 1, "with test_from: seed of the draw");
}

const std::vector<std::string>& test_only_params() {
  static const std::vector<std::string> names{"test", "synthetic_test_size"};
  return names;
}

bool reads_test_split(const Json& p) {
  if (!p.is_object()) return false;
  auto split = p.find("split");
  if (split != p.end() && split->is_string() && split->get<std::string>() == "test") return true;
  auto report = p.find("report_test");
  return report != p.end() && report->is_boolean() && report->get<bool>();
}

namespace {

std::string format_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The checks shared by the eval and test carvings: `prefix` is "eval" or "test"; `from` the split named
// by <prefix>_from, `has_from` whether it has data.
void check_carving(const std::string& where, const std::string& prefix, const std::string& from, bool has_from,
                   double fraction, std::int64_t size, std::int64_t seed) {
  const std::string p = prefix + "_";
  if (!has_from) {
    throw UsageError(where + p + "from = \"" + from + "\" needs the " + from + " file (" + from + " = \"...\")");
  }
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw UsageError(where + p + "fraction must be in (0, 1), got " + format_double(fraction));
  if (size < 0) throw UsageError(where + p + "size must be at least 1, got " + std::to_string(size));
  if ((fraction > 0) == (size > 0)) {
    throw UsageError(where + p + "from = \"" + from + "\" needs one of " + p + "fraction (in (0, 1)) or " + p +
                     "size (at least 1), not " + (size > 0 ? "both" : "neither"));
  }
  if (seed < 0) throw UsageError(where + p + "seed must not be negative, got " + std::to_string(seed));
}

}  // namespace

DataSource DataSource::from_params(const Params& params, const std::string& task) {
  const std::string where = "[task] " + task + ": ";
  DataSource d;
  d.synthetic = params.get_string("source") == "synthetic";
  d.train = params.get_string("train");
  d.eval = params.get_string("eval");
  d.test = params.get_string("test");
  d.max_seq_length = params.get_int("max_seq_length");
  if (d.max_seq_length < 8) {
    throw UsageError(where + "max_seq_length must be at least 8, got " + std::to_string(d.max_seq_length));
  }
  const std::int64_t train_size = params.get_int("synthetic_train_size");
  const std::int64_t eval_size = params.get_int("synthetic_eval_size");
  const std::int64_t test_size = params.get_int("synthetic_test_size");
  const std::int64_t seed = params.get_int("synthetic_seed");
  d.test_from = params.get_string("test_from");
  d.test_fraction = params.get_float("test_fraction");
  const std::int64_t carve_size = params.get_int("test_size");
  const std::int64_t carve_seed = params.get_int("test_seed");
  d.eval_from = params.get_string("eval_from");
  d.eval_fraction = params.get_float("eval_fraction");
  const std::int64_t eval_carve_size = params.get_int("eval_size");
  const std::int64_t eval_carve_seed = params.get_int("eval_seed");
  if (d.synthetic) {
    if (!d.train.empty() || !d.eval.empty() || !d.test.empty()) {
      throw UsageError(where +
                       "train, eval and test are files for source = \"file\"; remove them or set source = \"file\"");
    }
    if (train_size < 1)
      throw UsageError(where + "synthetic_train_size must be at least 1, got " + std::to_string(train_size));
    if (eval_size < 1)
      throw UsageError(where + "synthetic_eval_size must be at least 1, got " + std::to_string(eval_size));
    if (test_size < 0)
      throw UsageError(where + "synthetic_test_size must be at least 0 (0: no test split), got " +
                       std::to_string(test_size));
    if (seed < 0) throw UsageError(where + "synthetic_seed must not be negative, got " + std::to_string(seed));
    if (d.carves()) {
      throw UsageError(where +
                       "test_from carves a test split out of files; source = \"synthetic\" makes its own "
                       "(synthetic_test_size): remove test_from");
    }
    if (d.carves_eval()) {
      throw UsageError(where +
                       "eval_from carves a dev split out of files; source = \"synthetic\" makes its own "
                       "(synthetic_eval_size): remove eval_from");
    }
  } else if (d.train.empty() && d.eval.empty()) {
    throw UsageError(where + "source = \"file\" needs train or eval (or set source = \"synthetic\")");
  }
  if (d.carves_eval()) {
    if (!d.eval.empty()) {
      throw UsageError(where + "eval = \"" + d.eval + "\" and eval_from = \"" + d.eval_from +
                       "\" both make the eval split; keep one");
    }
    check_carving(where, "eval", d.eval_from, !d.train.empty(), d.eval_fraction, eval_carve_size, eval_carve_seed);
  } else if (d.eval_fraction != 0.0 || eval_carve_size != 0) {
    throw UsageError(where + (eval_carve_size != 0 ? "eval_size" : "eval_fraction") +
                     " is used only with eval_from = \"train\"; set eval_from or remove it");
  }
  if (d.carves()) {
    if (!d.test.empty()) {
      throw UsageError(where + "test = \"" + d.test + "\" and test_from = \"" + d.test_from +
                       "\" both make the test split; keep one");
    }
    check_carving(where, "test", d.test_from, d.has(d.carved_from()), d.test_fraction, carve_size, carve_seed);
  } else if (d.test_fraction != 0.0 || carve_size != 0) {
    throw UsageError(where + (carve_size != 0 ? "test_size" : "test_fraction") +
                     " is used only with test_from = \"eval\" or \"train\"; set test_from or remove it");
  }
  d.synthetic_train_size = static_cast<std::size_t>(train_size);
  d.synthetic_eval_size = static_cast<std::size_t>(eval_size);
  d.synthetic_test_size = static_cast<std::size_t>(std::max<std::int64_t>(test_size, 0));
  d.synthetic_seed = static_cast<std::uint64_t>(seed);
  d.test_size = static_cast<std::size_t>(std::max<std::int64_t>(carve_size, 0));
  d.test_seed = static_cast<std::uint64_t>(std::max<std::int64_t>(carve_seed, 0));
  d.eval_size = static_cast<std::size_t>(std::max<std::int64_t>(eval_carve_size, 0));
  d.eval_seed = static_cast<std::uint64_t>(std::max<std::int64_t>(eval_carve_seed, 0));
  return d;
}

const std::string& DataSource::file_or_empty(DataSplit split) const {
  return split == DataSplit::Train ? train : split == DataSplit::Eval ? eval : test;
}

const std::string& DataSource::file(DataSplit split, const std::string& task) const {
  if (split == DataSplit::Test) require_test(task);
  const std::string& path = file_or_empty(split);
  if (path.empty() && split == DataSplit::Train) {
    const char* name = to_string(split);
    throw Error("[task] " + task + ": the " + name + " split was asked for but no file is set (" + name +
                " = \"...\")");
  }
  if (path.empty() && split == DataSplit::Eval && !carves_eval()) {
    throw Error("[task] " + task +
                ": the eval split was asked for but no file is set (eval = \"...\", or eval_from = "
                "\"train\" with eval_fraction or eval_size)");
  }
  return path;
}

void DataSource::require_test(const std::string& task) const {
  if (has_test()) return;
  if (synthetic) {
    throw Error("[task] " + task + ": the test split was asked for but synthetic_test_size = 0 (set it to at least 1)");
  }
  throw Error("[task] " + task +
              ": the test split was asked for but there is none (set test = \"...\", or test_from = "
              "\"eval\" or \"train\" with test_fraction or test_size)");
}

std::vector<std::size_t> DataSource::carve(DataSplit target, const std::vector<std::size_t>& unit_of,
                                           const std::vector<std::int64_t>& stratum_of_unit, const std::string& task,
                                           const std::string& what) const {
  const std::string where = "[task] " + task + ": ";
  const bool eval_target = target == DataSplit::Eval;
  const std::string prefix = eval_target ? "eval_" : "test_";
  const std::size_t size = eval_target ? eval_size : test_size;
  const double fraction = eval_target ? eval_fraction : test_fraction;
  const std::string& from = eval_target ? eval_from : test_from;
  const std::size_t units = stratum_of_unit.size();
  const std::size_t want =
      size > 0 ? size : static_cast<std::size_t>(std::llround(fraction * static_cast<double>(units)));
  const std::string asked =
      size > 0 ? prefix + "size " + std::to_string(size) : prefix + "fraction " + format_double(fraction);
  const std::string of = " of the " + std::to_string(units) + " " + what + " of " + from;
  if (want == 0) throw Error(where + asked + of + " carves none; raise it (or set " + prefix + "size)");
  if (want >= units) throw Error(where + asked + of + " leaves " + from + " empty; lower it");

  // Units by stratum, in stratum order; each stratum's share by largest remainder.
  std::map<std::int64_t, std::vector<std::size_t>> strata;
  for (std::size_t u = 0; u < units; ++u) strata[stratum_of_unit[u]].push_back(u);
  std::vector<std::size_t> quota;
  std::vector<std::pair<double, std::size_t>> remainders;  // (fraction, stratum position)
  std::size_t given = 0;
  for (const auto& [stratum, members] : strata) {
    const double exact = static_cast<double>(want) * static_cast<double>(members.size()) / static_cast<double>(units);
    const auto whole = static_cast<std::size_t>(std::floor(exact));
    remainders.emplace_back(exact - static_cast<double>(whole), quota.size());
    quota.push_back(whole);
    given += whole;
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < want && i < remainders.size(); ++i, ++given) ++quota[remainders[i].second];

  // A seeded Fisher-Yates per stratum (one generator across strata, in order), the first `quota` units taken.
  data::SplitMix64 rng(eval_target ? eval_seed : test_seed);
  std::vector<char> chosen(units, 0);
  std::size_t s = 0;
  for (auto& [stratum, members] : strata) {
    for (std::size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.below(i)]);
    for (std::size_t i = 0; i < quota[s]; ++i) chosen[members[i]] = 1;
    ++s;
  }
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; i < unit_of.size(); ++i)
    if (chosen[unit_of[i]]) picked.push_back(i);
  return picked;
}

Json DataSource::describe(DataSplit split, const std::string& carved_by) const {
  Json j{{"split", to_string(split)}};
  const bool carved_eval = split == DataSplit::Eval && carves_eval();
  if (carved_eval || (split == DataSplit::Test && carves())) {
    const std::size_t carved_size = carved_eval ? eval_size : test_size;
    j["source"] = "carved";
    j["from"] = carved_eval ? eval_from : test_from;
    if (carved_size > 0)
      j["size"] = carved_size;
    else
      j["fraction"] = carved_eval ? eval_fraction : test_fraction;
    j["seed"] = carved_eval ? eval_seed : test_seed;
    if (!carved_by.empty()) j["by"] = carved_by;
  } else if (synthetic) {
    j["source"] = "synthetic";
    j["size"] = size(split);
    j["seed"] = seed(split);
  } else {
    j["source"] = "file";
    j["file"] = file_or_empty(split);
  }
  if (carves_eval() && split == DataSplit::Train) j["eval_carved_out"] = true;
  if (carves() && split == carved_from()) j["test_carved_out"] = true;
  return j;
}

}  // namespace slimpipe::tasks
