// rank on the held-out test split (rank.hpp): read only after the choice, to report the
// baseline, each candidate and the fp32 parents beside their dev figures; nothing here decides anything.
#include "rank.hpp"

#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/quant/model_evaluation.hpp"
#include "slimpipe/tasks/data_source.hpp"

namespace slimpipe::ranking {

ModelTest Rank::score_test(const fs::path& dir, bool quantized, const std::string& what,
                           const std::optional<tasks::ExampleEvaluation>& base_eval) {
  Context& ctx = *ctx_;
  ModelTest t;
  try {
    const auto e = quant::evaluate_model_folder(dir, quantized, ctx.task(), *scoring_, ctx.device(), s_.max_seq,
                                                s_.eval_batch, "test");
    t.value = e.stats.value();
    if (base_eval && e.stats.examples() == base_eval->stats.examples() && e.stats.width == base_eval->stats.width) {
      t.delta = *t.value - *base_test_;
      if (s_.resamples > 0) {
        const auto boot = metrics::paired_bootstrap({&base_eval->stats, &e.stats}, s_.resamples,
                                                    static_cast<std::uint64_t>(ctx.seed()));
        t.delta_ci = metrics::difference_interval(boot, 1, 0, s_.confidence);
      }
    }
  } catch (const Error& e) {
    ctx.log().warn("rank: cannot evaluate " + what + " on test: " + e.what());
  }
  return t;
}

void Rank::evaluate_test() {
  Context& ctx = *ctx_;
  const auto* splits = ctx.has_task() ? dynamic_cast<const tasks::SplitInfo*>(&ctx.task()) : nullptr;
  if (!s_.report_test || !s_.evaluate || !scoring_ || !splits || !splits->has_split(tasks::DataSplit::Test)) return;
  std::optional<tasks::ExampleEvaluation> base_eval;
  if (base_ref_) {
    try {
      base_eval = quant::evaluate_model_folder(base_ref_->dir, io::model_kind(base_ref_->dir) == "quantized_model",
                                               ctx.task(), *scoring_, ctx.device(), s_.max_seq, s_.eval_batch, "test");
      base_test_ = base_eval->stats.value();
    } catch (const Error& e) {
      ctx.log().warn("rank: cannot evaluate the baseline " + base_ref_->id + " on test: " + e.what());
    }
  }
  // The fp32 parents with rows of their own (the pruned models), so the gains of pruning and of quantization read
  // apart on test too.
  ctx.progress().begin("test", static_cast<std::int64_t>(cands_.size() + own_parents_.size()));
  std::int64_t done = 0;
  for (const auto& m : own_parents_) {
    model_test_[m.id] = score_test(m.dir, io::model_kind(m.dir) == "quantized_model", "fp32 model " + m.id, base_eval);
    ctx.progress().update(++done);
    ctx.throw_if_cancelled();
  }
  for (auto& c : cands_) {
    const ModelTest t = score_test(c.artifact->dir(), c.quantized(), c.artifact->id(), base_eval);
    c.test_value = t.value;
    c.test_delta = t.delta;
    c.test_delta_ci = t.delta_ci;
    ctx.progress().update(++done);
    ctx.throw_if_cancelled();
  }
  ctx.progress().end();
  test_json_ = {{"data", splits->split_info(tasks::DataSplit::Test)},
                {"baseline", base_test_ ? Json(*base_test_) : Json(nullptr)},
                {"note", "held out: evaluated after the choice, which reads the eval (dev) split only"}};
  if (base_eval) test_json_["examples"] = base_eval->stats.examples();
}

}  // namespace slimpipe::ranking
