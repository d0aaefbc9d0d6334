// Test task: accepts a few typed parameters, so that [task] tables can be checked and configured.
// It carries no data: asking it for features, a loss or an evaluation is an error.
#include "slimpipe/plugin.hpp"
#include "slimpipe/task.hpp"

namespace {

class EchoTask final : public slimpipe::Task {
 public:
  using Interface = slimpipe::Task;
  void configure(const slimpipe::Params& p) override {
    if (p.get_int("num_labels") < 2) throw slimpipe::Error("[task] num_labels must be at least 2");
    num_labels_ = p.get_int("num_labels");
  }
  slimpipe::HeadSpec head() const override { return {slimpipe::nn::TaskHead::SequenceClassification, num_labels_, {}}; }
  std::shared_ptr<const slimpipe::FeatureSet> features(const std::string&, const slimpipe::text::WordPieceTokenizer&,
                                                       std::int64_t) override {
    throw slimpipe::Error("echo_task is a test task without data");
  }
  at::Tensor loss(const slimpipe::nn::EncoderOutput&, const slimpipe::Batch&) const override {
    throw slimpipe::Error("echo_task is a test task without data");
  }
  slimpipe::Metrics evaluate(slimpipe::nn::TaskModelImpl&, const slimpipe::FeatureSet&, std::int64_t,
                             const slimpipe::nn::SiteHook&) const override {
    throw slimpipe::Error("echo_task is a test task without data");
  }

 private:
  std::int64_t num_labels_ = 2;
};

slimpipe::Schema schema() {
  using slimpipe::ParamType;
  return slimpipe::Schema()
      .param("num_labels", ParamType::Int, 2, "number of classes")
      .param("train", ParamType::Path, "", "training file");
}

}  // namespace

SLIMPIPE_PLUGIN(EchoTask, "echo_task", "1.0.0", "test task: checks its parameters", schema)
