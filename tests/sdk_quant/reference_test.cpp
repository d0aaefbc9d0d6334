// Every algorithm against make_reference.py (numpy re-implementation of Paddle's calibration and of our
// streamed defaults) on four data sets: Gaussian with outliers, GELU outputs in unequal batches, softmax
// probabilities, and batch size 1.
#include <gtest/gtest.h>

#include "quant_test_support.hpp"

namespace slimpipe::quant {
namespace {

using testing::calibrate;
using testing::paddle;

class Reference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { sets_ = new std::map<std::string, testing::ReferenceSet>(testing::load_reference()); }
  static void TearDownTestSuite() { delete sets_; }
  void SetUp() override {
    if (sets_->empty()) GTEST_SKIP() << "/usr/bin/python3 has no numpy: reference thresholds unavailable";
  }
  static std::map<std::string, testing::ReferenceSet>* sets_;
};
std::map<std::string, testing::ReferenceSet>* Reference::sets_ = nullptr;

// Relative tolerance for float32-vs-float64 differences; grid and bin choices must agree exactly, which this
// tolerance is far too tight to hide (neighbouring candidates differ by >= 1 bin or 2% of the range).
void expect_threshold(double actual, const nlohmann::json& expected, const std::string& what) {
  const double e = expected.get<double>();
  EXPECT_NEAR(actual, e, 1e-5 * std::max(1.0, std::fabs(e))) << what;
}

TEST_F(Reference, PaddleCompatThresholdsMatchNumpyPaddle) {
  for (const auto& [name, set] : *sets_) {
    SCOPED_TRACE(name);
    const auto& e = set.expected["paddle"];
    expect_threshold(calibrate("abs_max", paddle(), set.batches), e["abs_max"], "abs_max");
    expect_threshold(calibrate("min_max", paddle(), set.batches), e["min_max"], "min_max");
    expect_threshold(calibrate("avg", paddle(), set.batches), e["avg"], "avg");
    expect_threshold(calibrate("mse", paddle(), set.batches), e["mse"], "mse");
    expect_threshold(calibrate("mse", paddle(false), set.batches), e["mse_legacy"], "mse legacy");
    expect_threshold(calibrate("emd", paddle(), set.batches), e["emd"], "emd");
    expect_threshold(calibrate("hist", paddle(), set.batches), e["hist"], "hist");
    ObserverOptions five_nines = paddle();
    five_nines.hist_percent = 0.99999;
    expect_threshold(calibrate("hist", five_nines, set.batches), e["hist_99999"], "hist 0.99999");
    expect_threshold(calibrate("KL", paddle(), set.batches), e["KL"], "KL");
  }
}

TEST_F(Reference, DefaultThresholdsMatchNumpyStreamedHistograms) {
  for (const auto& [name, set] : *sets_) {
    SCOPED_TRACE(name);
    const auto& e = set.expected["default"];
    expect_threshold(calibrate("avg", {}, set.batches), e["avg"], "avg");
    expect_threshold(calibrate("hist", {}, set.batches), e["hist"], "hist");
    expect_threshold(calibrate("KL", {}, set.batches), e["KL"], "KL");
    expect_threshold(calibrate("percentile", {}, set.batches), e["percentile"], "percentile");
    expect_threshold(calibrate("mse", {}, set.batches), e["mse"], "mse");
    expect_threshold(calibrate("emd", {}, set.batches), e["emd"], "emd");
  }
}

TEST_F(Reference, DefaultMseIsNearTheExactOptimumOverAllBatches) {
  // The histogram estimate of the loss picks a candidate whose exact loss on the concatenated data is within
  // 2% of the best candidate's: the global optimum, where Paddle keeps its best single batch.
  for (const auto& [name, set] : *sets_) {
    SCOPED_TRACE(name);
    const double t = calibrate("mse", {}, set.batches);
    double best = 1e300, ours = -1;
    for (const auto& c : set.expected["default"]["mse_exact_losses"]) {
      best = std::min(best, c[1].get<double>());
      if (std::fabs(c[0].get<double>() - t) < 1e-6 * t) ours = c[1].get<double>();
    }
    ASSERT_GE(ours, 0) << "threshold " << t << " is not a grid candidate";
    EXPECT_LE(ours, best * 1.02);
  }
}

TEST_F(Reference, PaddleAvgDependsOnBatchingOursDoesNot) {
  // gelu_unequal has batches of 4, 4 and 1 rows: Paddle weighs the 1-row batch like the others.
  const auto& set = sets_->at("gelu_unequal");
  EXPECT_GT(std::fabs(calibrate("avg", paddle(), set.batches) - calibrate("avg", {}, set.batches)), 0.1);
  at::Tensor all = at::cat(set.batches, 0);
  EXPECT_NEAR(calibrate("avg", {}, set.batches), calibrate("avg", {}, {all}), 1e-5);
}

}  // namespace
}  // namespace slimpipe::quant
