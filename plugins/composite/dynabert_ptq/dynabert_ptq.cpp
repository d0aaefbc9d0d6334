// dynabert+ptq: PaddleNLP's strategy "dynabert+ptq": DynaBERT width pruning, then the post-training
// quantization grid on every width it exports. Expanded by the host into a dynabert node "<id>_dynabert"
// followed by a ptq node "<id>", which runs once per width (and per grid cell).
#include "slimpipe/composite.hpp"
#include "slimpipe/plugin.hpp"

namespace {

class DynabertPtq final : public slimpipe::Composite {
 public:
  using Interface = slimpipe::Composite;
  std::vector<slimpipe::CompositeStep> steps() const override {
    return {{"dynabert", "dynabert", {"learning_rate"}}, {"ptq", "ptq", {}}};
  }
};

// Parameters are those of the steps; the host checks them against the steps' schemas.
slimpipe::Schema schema() { return slimpipe::Schema(); }

}  // namespace

SLIMPIPE_PLUGIN(DynabertPtq, "dynabert+ptq", "1.0.0",
                "DynaBERT width pruning, then the PTQ grid on every width (expands into dynabert -> ptq)", schema)
