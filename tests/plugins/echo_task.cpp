// Test task: accepts a few typed parameters, so that [task] tables can be checked and configured.
#include "slimpipe/plugin.hpp"
#include "slimpipe/task.hpp"

namespace {

class EchoTask final : public slimpipe::Task {
 public:
  using Interface = slimpipe::Task;
  void configure(const slimpipe::Params& p) override {
    if (p.get_int("num_labels") < 2) throw slimpipe::Error("[task] num_labels must be at least 2");
  }
};

slimpipe::Schema schema() {
  using slimpipe::ParamType;
  return slimpipe::Schema()
      .param("num_labels", ParamType::Int, 2, "number of classes")
      .param("train", ParamType::Path, "", "training file");
}

}  // namespace

SLIMPIPE_PLUGIN(EchoTask, "task", "echo_task", "1.0.0", "test task: checks its parameters", schema)
