// slimpipe's encoder against the Python reference (make_reference.py, transformers' math and key names):
// logits and every tap agree within 1e-5 for safetensors and pytorch_model.bin files of each head.
#include <gtest/gtest.h>

#include "nn_test_support.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/safetensors.hpp"

namespace slimpipe::io {
namespace {

using namespace slimpipe::nn;
using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-5;

struct Case {
  std::string name;
  std::string weights;  // "st" or "bin"
  TaskHead head;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name << "/" << c.weights; }

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name + "_" + info.param.weights; }

class ReferenceLogits : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Reference& ref = Reference::get();
    if (!ref.skip_reason.empty()) GTEST_SKIP() << ref.skip_reason;
    ASSERT_FALSE(ref.dir.empty()) << "make_reference.py failed";
  }
};

TEST_P(ReferenceLogits, MatchWithinTolerance) {
  const Case& c = GetParam();
  const fs::path case_dir = Reference::get().dir / c.name;
  LoadedModel loaded = load_model(case_dir / c.weights);
  ASSERT_EQ(loaded.model->head(), c.head);
  EXPECT_EQ(loaded.weights_file.filename(), c.weights == "st" ? "model.safetensors" : "pytorch_model.bin");
  // Only the position_ids buffer transformers stores is left over.
  EXPECT_TRUE(loaded.unused_keys.empty()) << loaded.unused_keys.front();

  TensorMap ref = read_safetensors(case_dir / "reference.safetensors");
  EncoderInputs in;
  in.input_ids = ref.at("input_ids");
  in.token_type_ids = ref.at("token_type_ids");
  in.attention_mask = ref.at("attention_mask");
  if (ref.count("task_type_ids")) in.task_type_ids = ref.at("task_type_ids");
  EncoderOutput out = loaded.model->forward(in);

  const at::Tensor& got = c.head == TaskHead::None ? out.pooled_output : out.logits;
  ASSERT_EQ(got.sizes(), ref.at("logits").sizes());
  EXPECT_LE(max_abs_diff(got, ref.at("logits")), kTolerance);
  EXPECT_GT(ref.at("logits").abs().max().item<double>(), 0.1) << "reference logits too small to mean anything";
  ASSERT_EQ(out.taps.size(), static_cast<std::size_t>(loaded.config.num_hidden_layers + 1));
  for (std::size_t i = 0; i < out.taps.size(); ++i)
    EXPECT_LE(max_abs_diff(out.taps[i], ref.at("tap_" + std::to_string(i))), kTolerance) << "tap " << i;
  if (c.head == TaskHead::QuestionAnswering) {
    EXPECT_TRUE(at::equal(out.start_logits, out.logits.select(-1, 0)));
    EXPECT_EQ(out.end_logits.sizes(), in.input_ids.sizes());
  }
}

// seq_cls: gelu; token_cls: gelu_new, .bin with gamma/beta names; qa_ernie: ERNIE with task type ids, relu,
// legacy (pre-zip) .bin; pruned: pruned_heads {0: [1], 1: [0, 3]} and intermediate_size 48; bare_bf16: BertModel
// without prefix, BF16 weights.
INSTANTIATE_TEST_SUITE_P(Heads, ReferenceLogits,
                         ::testing::Values(Case{"seq_cls", "st", TaskHead::SequenceClassification},
                                           Case{"seq_cls", "bin", TaskHead::SequenceClassification},
                                           Case{"token_cls", "st", TaskHead::TokenClassification},
                                           Case{"token_cls", "bin", TaskHead::TokenClassification},
                                           Case{"qa_ernie", "st", TaskHead::QuestionAnswering},
                                           Case{"qa_ernie", "bin", TaskHead::QuestionAnswering},
                                           Case{"pruned", "st", TaskHead::SequenceClassification},
                                           Case{"pruned", "bin", TaskHead::SequenceClassification},
                                           Case{"bare_bf16", "st", TaskHead::None},
                                           Case{"bare_bf16", "bin", TaskHead::None}),
                         case_name);

}  // namespace
}  // namespace slimpipe::io
