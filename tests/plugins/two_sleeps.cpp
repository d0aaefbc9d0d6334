// Test composite: sleep_record, then sleep_record again. Shows that a composite plugin loads with the kind its
// Interface gives and that its steps are read at load.
#include "slimpipe/composite.hpp"
#include "slimpipe/plugin.hpp"

namespace {

class TwoSleeps final : public slimpipe::Composite {
 public:
  using Interface = slimpipe::Composite;
  std::vector<slimpipe::CompositeStep> steps() const override {
    return {{"sleep_record", "first", {"sleep_ms"}}, {"sleep_record", "second", {}}};
  }
};

slimpipe::Schema schema() { return slimpipe::Schema(); }

}  // namespace

SLIMPIPE_PLUGIN(TwoSleeps, "two_sleeps", "1.0.0", "test composite: sleep_record, then sleep_record again", schema)
