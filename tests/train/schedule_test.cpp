// LR schedule multipliers against transformers' lambdas (values computed with the Python formulas),
// and the training-length arithmetic of TrainingArguments.
#include <gtest/gtest.h>

#include "slimpipe/train/lr_schedule.hpp"
#include "slimpipe/train/training_arguments.hpp"

using slimpipe::train::LrSchedule;
using slimpipe::train::TrainingArguments;

TEST(LrSchedule, LinearMatchesHfLambdaWithWarmup) {
  LrSchedule s("linear", 10, 100);
  EXPECT_DOUBLE_EQ(s.multiplier(0), 0.0);
  EXPECT_DOUBLE_EQ(s.multiplier(3), 0.3);
  EXPECT_DOUBLE_EQ(s.multiplier(10), 1.0);
  EXPECT_DOUBLE_EQ(s.multiplier(37), 0.7);
  EXPECT_DOUBLE_EQ(s.multiplier(99), 0.011111111111111112);
  EXPECT_DOUBLE_EQ(s.multiplier(100), 0.0);
  EXPECT_DOUBLE_EQ(s.multiplier(130), 0.0);  // clamped at zero past the end
}

TEST(LrSchedule, CosineMatchesHfLambdaIncludingPastTheEnd) {
  LrSchedule s("cosine", 10, 100);
  EXPECT_DOUBLE_EQ(s.multiplier(3), 0.3);
  EXPECT_DOUBLE_EQ(s.multiplier(10), 1.0);
  EXPECT_DOUBLE_EQ(s.multiplier(37), 0.7938926261462366);
  EXPECT_DOUBLE_EQ(s.multiplier(99), 0.00030458649045211894);
  EXPECT_DOUBLE_EQ(s.multiplier(100), 0.0);
  // HF's half-cosine keeps going past num_training_steps (rises again); reproduced, not fixed.
  EXPECT_DOUBLE_EQ(s.multiplier(130), 0.24999999999999978);
  EXPECT_DOUBLE_EQ(LrSchedule("cosine", 0, 30).multiplier(7), 0.8715724127386971);
}

TEST(LrSchedule, ConstantIgnoresWarmupAndConstantWithWarmupRamps) {
  LrSchedule c("constant", 10, 100);
  EXPECT_DOUBLE_EQ(c.multiplier(0), 1.0);
  EXPECT_DOUBLE_EQ(c.multiplier(50), 1.0);
  LrSchedule w("constant_with_warmup", 4, 100);
  EXPECT_DOUBLE_EQ(w.multiplier(0), 0.0);
  EXPECT_DOUBLE_EQ(w.multiplier(1), 0.25);
  EXPECT_DOUBLE_EQ(w.multiplier(4), 1.0);
  EXPECT_DOUBLE_EQ(w.multiplier(500), 1.0);
}

TEST(LrSchedule, DegenerateLengthsDoNotDivideByZero) {
  EXPECT_DOUBLE_EQ(LrSchedule("linear", 1, 1).multiplier(1), 0.0);
  EXPECT_DOUBLE_EQ(LrSchedule("cosine", 1, 1).multiplier(2), 0.0);
  EXPECT_DOUBLE_EQ(LrSchedule("linear", 0, 0).multiplier(0), 0.0);
}

TEST(LrSchedule, UnknownTypeIsAnErrorNamingTheParameter) {
  try {
    LrSchedule("polynomial", 0, 10);
    FAIL() << "expected an error";
  } catch (const slimpipe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr_scheduler_type"), std::string::npos) << e.what();
  }
}

TEST(TrainingArguments, DefaultsAreHuggingFaces) {
  slimpipe::Schema schema;
  slimpipe::train::add_training_arguments(schema);
  const auto a = TrainingArguments::from_params(slimpipe::resolve_params(schema, slimpipe::Json::object(), "test"));
  EXPECT_DOUBLE_EQ(a.learning_rate, 5e-5);
  EXPECT_DOUBLE_EQ(a.num_train_epochs, 3.0);
  EXPECT_EQ(a.max_steps, -1);
  EXPECT_EQ(a.per_device_train_batch_size, 8);
  EXPECT_EQ(a.per_device_eval_batch_size, 8);
  EXPECT_DOUBLE_EQ(a.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(a.adam_beta1, 0.9);
  EXPECT_DOUBLE_EQ(a.adam_beta2, 0.999);
  EXPECT_DOUBLE_EQ(a.adam_epsilon, 1e-8);
  EXPECT_DOUBLE_EQ(a.max_grad_norm, 1.0);
  EXPECT_EQ(a.lr_scheduler_type, "linear");
  EXPECT_EQ(a.warmup_steps, 0);
  EXPECT_DOUBLE_EQ(a.warmup_ratio, 0.0);
  EXPECT_EQ(a.logging_steps, 500);
  EXPECT_EQ(a.save_steps, 500);
  EXPECT_EQ(a.seed, 42);
}

TEST(TrainingArguments, PluginDefaultsOverrideAndValuesAreRead) {
  TrainingArguments dynabert_defaults;
  dynabert_defaults.logging_steps = dynabert_defaults.save_steps = 100;
  dynabert_defaults.warmup_ratio = 0.1;
  slimpipe::Schema schema;
  slimpipe::train::add_training_arguments(schema, dynabert_defaults);
  const auto a = TrainingArguments::from_params(slimpipe::resolve_params(
      schema, slimpipe::Json{{"learning_rate", 1e-3}, {"lr_scheduler_type", "cosine"}}, "test"));
  EXPECT_EQ(a.save_steps, 100);
  EXPECT_DOUBLE_EQ(a.warmup_ratio, 0.1);
  EXPECT_DOUBLE_EQ(a.learning_rate, 1e-3);
  EXPECT_EQ(a.lr_scheduler_type, "cosine");
  EXPECT_THROW(slimpipe::resolve_params(schema, slimpipe::Json{{"lr_scheduler_type", "step"}}, "test"),
               slimpipe::Error);
}

TEST(TrainingArguments, StepsFollowHfArithmetic) {
  TrainingArguments a;
  a.per_device_train_batch_size = 32;
  a.num_train_epochs = 3;
  EXPECT_EQ(a.steps_per_epoch(100), 4);  // last partial batch counts
  EXPECT_EQ(a.num_training_steps(100), 12);
  a.num_train_epochs = 1.5;
  EXPECT_EQ(a.num_training_steps(100), 6);
  a.max_steps = 7;
  EXPECT_EQ(a.num_training_steps(100), 7);
  a.warmup_ratio = 0.1;
  EXPECT_EQ(a.num_warmup_steps(7), 1);  // ceil(0.7)
  EXPECT_EQ(a.num_warmup_steps(100), 10);
  a.warmup_steps = 3;  // wins over the ratio
  EXPECT_EQ(a.num_warmup_steps(100), 3);
}

TEST(TrainingArguments, OutOfRangeValueNamesTheParameter) {
  TrainingArguments a;
  a.per_device_train_batch_size = 0;
  try {
    a.validate("finetune");
    FAIL() << "expected an error";
  } catch (const slimpipe::Error& e) {
    EXPECT_EQ(std::string(e.what()), "finetune: per_device_train_batch_size must be >= 1");
  }
}
