// Accuracy: the seq_cls ranking metric (spec §5: argmax == label, micro over the dev set).
// Batches may be added in any split; only the totals matter.
#include "slimpipe/metrics/accuracy.hpp"

#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::metrics {

void Accuracy::add(const std::vector<std::int64_t>& predictions, const std::vector<std::int64_t>& labels) {
  if (predictions.size() != labels.size())
    throw Error("accuracy: " + std::to_string(predictions.size()) + " predictions but " +
                std::to_string(labels.size()) + " labels");
  for (std::size_t i = 0; i < labels.size(); ++i) add(predictions[i], labels[i]);
}

double accuracy(const std::vector<std::int64_t>& predictions, const std::vector<std::int64_t>& labels) {
  Accuracy a;
  a.add(predictions, labels);
  return a.value();
}

}  // namespace slimpipe::metrics
