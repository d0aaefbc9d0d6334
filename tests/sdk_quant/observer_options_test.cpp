// Up-front validation of algo x option combinations (one-line errors) and the observer protocol.
#include <gtest/gtest.h>

#include "quant_test_support.hpp"

namespace slimpipe::quant {
namespace {

void expect_error(const std::string& algo, const ObserverOptions& o, const std::string& fragment) {
  try {
    make_observer(algo, o);
    ADD_FAILURE() << "no error for " << algo;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

TEST(ObserverOptions, EveryPaddleNlpAlgoIsAvailable) {
  for (const auto& algo : {"abs_max", "min_max", "avg", "mse", "emd", "hist", "KL", "percentile"})
    EXPECT_EQ(make_observer(algo)->algo(), algo);
}

TEST(ObserverOptions, InvalidCombinationsFailUpFrontWithOneLine) {
  expect_error("kl", {}, "did you mean 'KL'?");
  expect_error("entropy", {}, "expected one of 'abs_max'");
  ObserverOptions o;
  o.hist_percent = 0.9999;
  expect_error("KL", o, "hist_percent applies only to algo 'hist'");
  o.hist_percent = 99.99;
  expect_error("hist", o, "fraction in (0, 1]");
  o = {};
  o.percentile = 0.9999;
  expect_error("hist", o, "percentile applies only to algo 'percentile'");
  o.percentile = 101;
  expect_error("percentile", o, "percent in (0, 100]");
  o = {};
  o.paddle_compat = true;
  expect_error("percentile", o, "not a Paddle algorithm");
  o.bins = 4096;
  expect_error("mse", o, "Paddle searches each raw batch");
  o = {};
  o.bins = 1000;
  expect_error("abs_max", o, "bins applies only to histogram algos");
  o.bins = 128;
  expect_error("KL", o, "KL needs bins >= 256");
  o.bins = 1002;
  expect_error("hist", o, "multiple of 4");
  o = {};
  o.bits = 1;
  expect_error("abs_max", o, "bits must be in 2..16");
}

TEST(ObserverOptions, ThresholdBeforeDataOrBeforeSecondPassIsAnError) {
  auto obs = make_observer("hist");
  EXPECT_THROW(obs->threshold(), Error);
  EXPECT_THROW(obs->finish_pass(), Error) << "single-pass observer";
  ObserverOptions compat;
  compat.paddle_compat = true;
  auto kl = make_observer("KL", compat);
  EXPECT_EQ(kl->passes(), 2);
  kl->observe(at::randn({4, 8}));
  EXPECT_THROW(kl->threshold(), Error) << "range pass only";
  kl->finish_pass();
  EXPECT_THROW(kl->threshold(), Error) << "no batch in pass 2";
}

TEST(ObserverOptions, EmptyAndIntegerBatches) {
  auto obs = make_observer("abs_max");
  obs->observe(at::empty({0, 16}));
  EXPECT_EQ(obs->batches(), 0) << "zero-size tensors are skipped, as in Paddle";
  EXPECT_THROW(obs->observe(at::ones({2, 2}, at::kLong)), Error);
  obs->observe(at::tensor({-3.0, 2.0}).to(at::kDouble));
  EXPECT_DOUBLE_EQ(obs->threshold(), 3.0);
  EXPECT_DOUBLE_EQ(obs->min(), -3.0);
  EXPECT_DOUBLE_EQ(obs->max(), 2.0);
}

}  // namespace
}  // namespace slimpipe::quant
