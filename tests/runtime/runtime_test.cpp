// slimpipe_runtime against LibTorch: fp32 exports agree with TaskModel::forward within 1e-4, INT8 exports with
// the fake-quant forward (quant::make_fake_quant_hook) within a stated tolerance and the same predictions;
// broken folders and inputs give one-line errors; steady-state runs allocate nothing.
#include "slimpipe_runtime/runtime.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/runtime_package.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"

// Counting every heap allocation of the process while enabled (only around the runs under test): operator new,
// and the C allocator's entry points (oneDNN, OpenBLAS and libgomp allocate through malloc and posix_memalign),
// forwarded to glibc's own implementations. (malloc/free pair correctly here; gcc cannot see that every
// operator new of the program is this one.)
// Under AddressSanitizer (scripts/sanitize.sh) the allocator belongs to ASan: blocks from glibc's own malloc would
// reach ASan's free, which aborts on them. The counting allocator is left out there, and the test that needs it
// skips.
#if defined(__SANITIZE_ADDRESS__)
#define SLIMPIPE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLIMPIPE_TEST_ASAN 1
#endif
#endif
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<bool> g_count{false};
std::atomic<long> g_allocs{0};
std::atomic<long> g_large{0};
}  // namespace
#ifndef SLIMPIPE_TEST_ASAN
namespace {
void count_alloc(std::size_t n) {
  if (g_count.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (n >= 4096) g_large.fetch_add(1, std::memory_order_relaxed);
  }
}
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t n) {
  count_alloc(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
  count_alloc(a * b);
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
  count_alloc(n);
  return __libc_realloc(p, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  count_alloc(n);
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count_alloc(n);
  return __libc_memalign(align, n);
}
}

void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;  // counted by malloc
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif  // SLIMPIPE_TEST_ASAN

namespace {

namespace fs = std::filesystem;
using namespace slimpipe;
namespace rt = slimpipe_runtime;

struct Case {
  std::string name;
  nn::TaskHead head;
  std::string act = "gelu";
  bool pruned = false;
  bool ernie = false;
};

nn::TaskModel make_model(const Case& c, std::int64_t hidden = 32, std::int64_t layers = 2, std::uint64_t seed = 3) {
  at::manual_seed(static_cast<std::int64_t>(seed));
  nn::EncoderConfig config;
  config.model_type = c.ernie ? "ernie" : "bert";
  config.use_task_id = c.ernie;
  config.vocab_size = 100;
  config.hidden_size = hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = 4;
  config.intermediate_size = 2 * hidden;
  config.max_position_embeddings = 64;
  config.num_labels = 3;
  config.hidden_act = c.act;
  nn::TaskModel model(config, c.head);
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      if (p.key().find("LayerNorm.weight") != std::string::npos)
        p.value().copy_(1.0 + 0.2 * at::randn(p.value().sizes()));
      else
        p.value().copy_(0.3 * at::randn(p.value().sizes()));
    }
  }
  model->eval();
  if (!c.pruned) return model;
  std::vector<std::int64_t> heads, inter;
  for (std::int64_t i = 0; i < layers; ++i) {
    heads.push_back(i % 2 == 0 ? 3 : 2);
    inter.push_back(i % 2 == 0 ? 3 * hidden / 2 : hidden + 8);
  }
  nn::TaskModel pruned = nn::prune(*model, heads, inter);
  pruned->eval();
  return pruned;
}

// batch rows of `seq` tokens; row r is padded over its last (r * 3) % (seq / 2) positions.
nn::EncoderInputs make_inputs(std::int64_t batch, std::int64_t seq, std::uint64_t seed) {
  at::manual_seed(static_cast<std::int64_t>(seed));
  nn::EncoderInputs in;
  in.input_ids = at::randint(1, 100, {batch, seq}, at::kLong);
  in.token_type_ids = at::zeros({batch, seq}, at::kLong);
  in.token_type_ids.narrow(1, seq / 2, seq - seq / 2).fill_(1);
  in.attention_mask = at::ones({batch, seq}, at::kLong);
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t pad = (r * 3) % (seq / 2);
    if (pad == 0) continue;
    in.attention_mask[r].narrow(0, seq - pad, pad).fill_(0);
    in.input_ids[r].narrow(0, seq - pad, pad).fill_(0);
  }
  return in;
}

std::vector<std::int64_t> flat(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

// The reference as [rows, labels] (seq_cls: batch rows; token_cls: tokens; qa: tokens x (start, end)).
at::Tensor reference(nn::TaskModelImpl& model, const nn::EncoderInputs& in, const nn::SiteHook& hook = {}) {
  at::NoGradGuard no_grad;
  auto out = model.forward(in, hook);
  if (model.head() == nn::TaskHead::QuestionAnswering)
    return at::stack({out.start_logits.reshape({-1}), out.end_logits.reshape({-1})}, 1);
  return out.logits.reshape({-1, out.logits.size(-1)});
}

at::Tensor runtime_logits(rt::Model& model, const nn::EncoderInputs& in) {
  const std::int64_t b = in.input_ids.size(0), s = in.input_ids.size(1);
  const auto& out = model.run(flat(in.input_ids), flat(in.token_type_ids), flat(in.attention_mask), b, s);
  if (out.start_logits) {
    at::Tensor start = at::from_blob(const_cast<float*>(out.start_logits), {b * s}, at::kFloat).clone();
    at::Tensor end = at::from_blob(const_cast<float*>(out.end_logits), {b * s}, at::kFloat).clone();
    return at::stack({start, end}, 1);
  }
  return at::from_blob(const_cast<float*>(out.logits), {out.logits_size() / out.num_labels, out.num_labels}, at::kFloat)
      .clone();
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

fs::path scratch(const std::string& name) {
  fs::path dir = fs::path(SLIMPIPE_BINARY_DIR) / "tests" / "runtime_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Rows whose argmax agrees. QA: start and end columns are two independent predictions over the sequence, so
// it compares argmax over tokens per (row, column); the others compare argmax over labels per row.
double agreement(const at::Tensor& a, const at::Tensor& b) {
  return a.argmax(-1).eq(b.argmax(-1)).to(at::kDouble).mean().item<double>();
}

quant::FakeQuantPlan calibrate(nn::TaskModelImpl& model, const std::vector<nn::EncoderInputs>& batches,
                               bool per_channel = true) {
  at::NoGradGuard no_grad;
  quant::CalibrationObservers obs(quant::activation_operands(model), "abs_max");
  for (int pass = 0; pass < obs.passes(); ++pass) {
    if (pass > 0) obs.finish_pass();
    for (const auto& b : batches) model.forward(b, obs.hook());
  }
  quant::FakeQuantPlan plan;
  plan.activation_thresholds = obs.thresholds();
  for (auto& site : nn::linear_sites(model))
    plan.weights[site.name] = quant::quantize_weight(
        site.module->weight, per_channel ? quant::WeightQuantType::ChannelWiseAbsMax : quant::WeightQuantType::AbsMax);
  return plan;
}

// Stated INT8 tolerance. Both sides see the same int8 levels; the runtime accumulates exactly in int32 where the
// reference sums dequantized floats, so an activation lying within float rounding of a quantization boundary
// can land one level (T/127) apart and carry that through the later layers. Hence: the mean |runtime -
// fake-quant| is at most 5% of the mean |fake-quant - fp32| (the quantization error itself), the max at most
// 30% of its max, and the predictions agree on >= 99.5% of rows.
void expect_int8_agreement(const std::string& name, const at::Tensor& want, const at::Tensor& got,
                           const at::Tensor& fp32, const at::Tensor& want_pred, const at::Tensor& got_pred) {
  const double diff = max_abs(want, got), mean_diff = (want - got).abs().mean().item<double>();
  const double qerr = max_abs(want, fp32), mean_qerr = (want - fp32).abs().mean().item<double>();
  const double agree = agreement(want_pred, got_pred);
  std::cout << "[ int8 " << name << " ] rows " << want_pred.numel() / want_pred.size(-1)
            << ": |runtime - fake-quant| max " << diff << " mean " << mean_diff << "; |fake-quant - fp32| max " << qerr
            << " mean " << mean_qerr << "; same argmax on " << 100 * agree << "% of rows\n";
  EXPECT_LE(mean_diff, 0.05 * mean_qerr);
  EXPECT_LE(diff, 0.3 * qerr);
  EXPECT_GE(agree, 0.995);
}

class Fp32 : public ::testing::TestWithParam<Case> {};

TEST_P(Fp32, LogitsMatchTaskModelWithin1e4) {
  const Case& c = GetParam();
  nn::TaskModel model = make_model(c);
  const fs::path dir = scratch("fp32_" + c.name);
  exporter::export_runtime(*model, dir);
  rt::set_threads(2);
  rt::Model m = rt::Model::load(dir);
  EXPECT_EQ(m.info().precision, "fp32");
  EXPECT_EQ(m.info().int8_linears, 0);
  for (auto [b, s] : {std::pair<std::int64_t, std::int64_t>{3, 17}, {1, 9}, {4, 24}}) {
    auto in = make_inputs(b, s, 11 + b);
    const at::Tensor want = reference(*model, in), got = runtime_logits(m, in);
    ASSERT_EQ(want.sizes(), got.sizes());
    const double diff = max_abs(want, got);
    std::cout << "[ fp32 " << c.name << " b=" << b << " s=" << s << " ] max |runtime - LibTorch| = " << diff << "\n";
    EXPECT_LE(diff, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, Fp32,
                         ::testing::Values(Case{"seq_cls", nn::TaskHead::SequenceClassification},
                                           Case{"token_cls_gelu_new", nn::TaskHead::TokenClassification, "gelu_new"},
                                           Case{"qa_ernie_relu", nn::TaskHead::QuestionAnswering, "relu", false, true},
                                           Case{"seq_cls_pruned", nn::TaskHead::SequenceClassification, "gelu", true},
                                           Case{"token_cls_pruned", nn::TaskHead::TokenClassification, "gelu", true},
                                           Case{"qa_pruned", nn::TaskHead::QuestionAnswering, "gelu", true}),
                         [](const auto& info) { return info.param.name; });

class Int8 : public ::testing::TestWithParam<Case> {};

// INT8: the runtime computes Linear layers as s8 x s8 -> s32 with the scales applied once, where the reference
// multiplies dequantized floats; both see the same int8 levels, so differences are float rounding plus the
// rare activation that lands on the other side of a rounding boundary (one level = T/127).
TEST_P(Int8, MatchesFakeQuantForward) {
  const Case& c = GetParam();
  nn::TaskModel model = make_model(c, 64, 2, 7);
  std::vector<nn::EncoderInputs> calib;
  for (int i = 0; i < 4; ++i) calib.push_back(make_inputs(8, 32, 100 + i));
  quant::FakeQuantPlan plan = calibrate(*model, calib);
  const fs::path dir = scratch("int8_" + c.name);
  exporter::export_runtime(*model, plan, dir);  // default: word embeddings stored as f16
  EXPECT_NE(read_text(dir / "runtime.json").find("\"f16\""), std::string::npos);
  rt::set_threads(2);
  // The deployment computes with the f16-rounded table: so does the reference (the rest of the model is as the
  // fake-quant plan says). PartialPlan below checks an export that keeps the table f32 against the unrounded one.
  {
    at::NoGradGuard no_grad;
    at::Tensor w = model->embeddings->word_embeddings->weight;
    w.copy_(w.to(at::kHalf).to(at::kFloat));
  }
  const auto hook = quant::make_fake_quant_hook(plan);
  std::vector<nn::EncoderInputs> inputs;
  at::Tensor want_all, fp_all;
  for (int i = 0; i < 5; ++i) {
    // Enough predictions that 99.5% is measurable: 240 sequences, 1280 tokens, 400 QA start/end positions.
    const std::int64_t batch = c.head == nn::TaskHead::SequenceClassification ? 48
                               : c.head == nn::TaskHead::QuestionAnswering    ? 40
                                                                              : 8;
    inputs.push_back(make_inputs(batch, 32, 200 + i));
    at::Tensor want = reference(*model, inputs.back(), hook), fp = reference(*model, inputs.back());
    want_all = want_all.defined() ? at::cat({want_all, want}) : want;
    fp_all = fp_all.defined() ? at::cat({fp_all, fp}) : fp;
  }
  // Every kernel path this CPU runs: the own kernels at its best instruction set and at each lower one, and
  // oneDNN's. The reference is the same for all.
  const std::string cpu = rt::cpu_isa();
  const bool vnni = cpu.find("vnni") != std::string::npos || cpu.find("amx") != std::string::npos;
  for (const auto& [label, kernels, isa] :
       std::vector<std::tuple<std::string, rt::Kernels, std::string>>{{"own", rt::Kernels::Own, "auto"},
                                                                      {"own avx2", rt::Kernels::Own, "avx2"},
                                                                      {"own portable", rt::Kernels::Own, "portable"},
                                                                      {"onednn", rt::Kernels::OneDnn, "auto"}}) {
    rt::Options options;
    options.kernels = kernels;
    options.isa = isa;
    std::optional<rt::Model> loaded;
    try {
      loaded.emplace(rt::Model::load(dir, options));
    } catch (const rt::Error& e) {
      std::cout << "[ int8 " << c.name << " / " << label << " ] not on this CPU: " << e.what() << "\n";
      EXPECT_NE(std::string(e.what()).find("this CPU's best is"), std::string::npos) << e.what();
      continue;
    }
    rt::Model& m = *loaded;
    EXPECT_EQ(m.info().precision, "int8");
    EXPECT_EQ(m.info().fp32_linears, 0);
    // Q·Kᵀ and P·V run as integer matmuls on VNNI CPUs (own kernels at their best, or oneDNN's brgemm); elsewhere
    // as float products of the fake-quantized operands. Either way the reference is the same.
    std::cout << "[ int8 " << c.name << " / " << label << " ] cpu " << cpu << ", kernels " << m.info().kernels
              << ", integer attention in " << m.info().int8_attention_layers << " of 2 layers\n";
    if (vnni && isa == "auto") {
      EXPECT_EQ(m.info().int8_attention_layers, 2);
    }
    if (kernels == rt::Kernels::Own) {
      EXPECT_EQ(m.info().own_linears, m.info().int8_linears);
      EXPECT_EQ(m.info().onednn_linears, 0);
    }
    at::Tensor got_all;
    for (const auto& in : inputs) {
      at::Tensor got = runtime_logits(m, in);
      got_all = got_all.defined() ? at::cat({got_all, got}) : got;
    }
    at::Tensor a = want_all, b = got_all;
    if (c.head == nn::TaskHead::QuestionAnswering) {  // argmax over the tokens of each sequence, start and end
      a = want_all.view({-1, 32, 2}).transpose(1, 2);
      b = got_all.view({-1, 32, 2}).transpose(1, 2);
    }
    expect_int8_agreement(c.name + " / " + label, want_all, got_all, fp_all, a, b);
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, Int8,
                         ::testing::Values(Case{"seq_cls", nn::TaskHead::SequenceClassification},
                                           Case{"token_cls", nn::TaskHead::TokenClassification, "gelu_new"},
                                           Case{"qa_ernie_relu", nn::TaskHead::QuestionAnswering, "relu", false, true},
                                           Case{"seq_cls_pruned", nn::TaskHead::SequenceClassification, "gelu", true}),
                         [](const auto& info) { return info.param.name; });

// A plan that skips operands and uses per-tensor weights: mixed int8 / fp32 sites, split Q/K/V GEMMs,
// fake-quantized inputs without int8 weights, and int8 weights without input thresholds.
TEST(RuntimeInt8, PartialPlanRunsMixedSitesExactlyAsTheHook) {
  Case c{"partial", nn::TaskHead::TokenClassification};
  nn::TaskModel model = make_model(c, 64, 2, 9);
  std::vector<nn::EncoderInputs> calib{make_inputs(8, 32, 1), make_inputs(8, 32, 2)};
  quant::FakeQuantPlan plan = calibrate(*model, calib, /*per_channel=*/false);
  plan.activation_thresholds.erase({"encoder.layer.0.attention.self.key", 0});  // Q/K/V not fusable
  plan.activation_thresholds.erase({"encoder.layer.1.intermediate.dense", 0});  // int8 weight, fp32 input
  plan.weights.erase("encoder.layer.1.output.dense");                           // fp32 weight, quantized input
  plan.activation_thresholds.erase({"encoder.layer.1.attention.self.qk", 1});
  plan.activation_thresholds.erase({"encoder.layer.0.attention.self.pv", 0});
  const fs::path dir = scratch("int8_partial");
  exporter::RuntimeExportOptions options;
  options.f16_word_embeddings = false;
  exporter::export_runtime(*model, plan, dir, options);
  EXPECT_EQ(read_text(dir / "runtime.json").find("\"f16\""), std::string::npos);
  rt::set_threads(1);
  rt::Model m = rt::Model::load(dir);
  EXPECT_GT(m.info().fp32_linears, 0);
  EXPECT_GT(m.info().int8_linears, 0);
  auto in = make_inputs(8, 32, 5);
  const at::Tensor want = reference(*model, in, quant::make_fake_quant_hook(plan)), got = runtime_logits(m, in);
  expect_int8_agreement("partial plan", want, got, reference(*model, in), want, got);
}

TEST(RuntimeExport, RefusesPlansTheKernelsCannotRun) {
  Case c{"refuse", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  quant::FakeQuantPlan plan = calibrate(*model, {make_inputs(2, 8, 1)});
  plan.options.bits = 4;
  const fs::path dir = scratch("refuse");
  try {
    exporter::export_runtime(*model, plan, dir);
    FAIL() << "a 4-bit plan was exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8-bit"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "runtime.json"));
  plan.options.bits = 8;
  plan.weights["encoder.layer.9.output.dense"] = plan.weights.begin()->second;
  EXPECT_THROW(exporter::export_runtime(*model, plan, dir), Error);
  nn::TaskModel bare(model->config(), nn::TaskHead::None);
  EXPECT_THROW(exporter::export_runtime(*bare, dir), Error);
}

// Every message is one line and names the file.
void expect_load_error(const fs::path& dir, const std::string& fragment) {
  try {
    rt::Model::load(dir);
    FAIL() << "loaded " << dir;
  } catch (const rt::Error& e) {
    const std::string msg = e.what();
    std::cout << "[ error ] " << msg << "\n";
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(RuntimeErrors, MissingAndCorruptFilesGiveOneLineErrors) {
  Case c{"errors", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path base = scratch("errors");
  expect_load_error(base / "absent", "absent: not a folder");
  expect_load_error(base, "runtime.json: not found");

  auto fresh = [&](const std::string& name) {
    fs::path d = base / name;
    exporter::export_runtime(*model, d);
    // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
    fs::remove(d / exporter::kPackageJson);
    return d;
  };
  fs::path d = fresh("bad_json");
  { std::ofstream(d / "runtime.json") << "{\"format\": \"slimpipe-runtime\", "; }
  expect_load_error(d, "runtime.json: not valid JSON");

  d = fresh("truncated");
  fs::resize_file(d / "weights.bin", fs::file_size(d / "weights.bin") - 100);
  expect_load_error(d, "weights.bin: ");

  d = fresh("no_weights");
  fs::remove(d / "weights.bin");
  expect_load_error(d, "weights.bin: cannot open");

  auto edit = [&](const std::string& name, auto&& change) {
    fs::path e = fresh(name);
    nlohmann::json j = nlohmann::json::parse(std::ifstream(e / "runtime.json"));
    change(j);
    std::ofstream(e / "runtime.json") << j.dump();
    return e;
  };
  d = edit("shape", [](nlohmann::json& j) { j["hidden_size"] = 48; });
  expect_load_error(d, "expected f32 [");
  d = edit("version", [](nlohmann::json& j) { j["version"] = 99; });
  expect_load_error(d, "format version 99");
  d = edit("format", [](nlohmann::json& j) { j["format"] = "onnx"; });
  expect_load_error(d, "not a slimpipe runtime model");
  d = edit("outside", [](nlohmann::json& j) { j["tensors"][0]["offset"] = 1ull << 40; });
  expect_load_error(d, "lies outside weights.bin");
  d = edit("layers", [](nlohmann::json& j) { j["layers"][1]["num_heads"] = 3; });
  expect_load_error(d, "encoder.layer.1.attention.self.query.bias is f32 [32], expected f32 [24]");
  d = edit("missing", [](nlohmann::json& j) {
    auto& t = j["tensors"];
    for (auto it = t.begin(); it != t.end(); ++it)
      if ((*it)["name"] == "classifier.bias") {
        t.erase(it);
        break;
      }
  });
  expect_load_error(d, "tensor classifier.bias is missing");
  d = edit("act", [](nlohmann::json& j) { j["hidden_act"] = "swish"; });
  expect_load_error(d, "hidden_act 'swish'");
}

TEST(RuntimeErrors, BadInputsGiveOneLineErrors) {
  Case c{"inputs", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path dir = scratch("inputs");
  exporter::export_runtime(*model, dir);
  rt::Model m = rt::Model::load(dir);
  auto expect_error = [&](auto&& call, const std::string& fragment) {
    try {
      call();
      FAIL() << "no error, expected " << fragment;
    } catch (const rt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  };
  std::vector<std::int64_t> ids{1, 2, 3, 4}, ones(4, 1), zeros(4, 0);
  expect_error([&] { m.run(ids, zeros, ones, 2, 3); }, "input_ids has 4 values, expected batch*seq = 6");
  expect_error(
      [&] {
        m.run({1, 2, 300, 4}, zeros, ones, 2, 2);
      },
      "input_ids[1][0] = 300 is outside the vocabulary [0, 100)");
  expect_error([&] { m.run(ids, {0, 0, 2, 0}, ones, 2, 2); }, "token_type_ids[1][0] = 2, expected 0..1");
  expect_error([&] { m.run(ids, zeros, {1, 1, 1, 5}, 2, 2); }, "attention_mask[1][1] = 5, expected 0 or 1");
  std::vector<std::int64_t> long_ids(65, 1);
  expect_error([&] { m.run(long_ids, {}, {}, 1, 65); }, "seq 65 exceeds max_position_embeddings 64");
  // Null token types and mask mean zeros and ones, as in TaskModel::forward.
  const auto& out = m.run(ids.data(), nullptr, nullptr, 2, 2);
  std::vector<float> a(out.logits, out.logits + out.logits_size());
  const auto& out2 = m.run(ids, zeros, ones, 2, 2);
  EXPECT_EQ(a, std::vector<float>(out2.logits, out2.logits + out2.logits_size()));
}

// An i8 weight without its weight_threshold tensor: a one-line error (it was dereferenced as found; found by
// fuzz_runtime_model).
TEST(RuntimeErrors, Int8WeightWithoutThresholdIsAnError) {
  Case c{"no_threshold", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path d = scratch("no_threshold");
  exporter::export_runtime(*model, calibrate(*model, {make_inputs(2, 8, 1)}), d);
  // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
  fs::remove(d / exporter::kPackageJson);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "runtime.json"));
  auto& t = j["tensors"];
  const std::string site = "encoder.layer.0.intermediate.dense";
  bool removed = false;
  for (auto it = t.begin(); it != t.end(); ++it)
    if ((*it)["name"] == site + ".weight_threshold") {
      t.erase(it);
      removed = true;
      break;
    }
  ASSERT_TRUE(removed) << "the export has no " << site << ".weight_threshold";
  std::ofstream(d / "runtime.json") << j.dump();
  expect_load_error(d,
                    "tensor " + site + ".weight_threshold is missing (expected f32 [64] or [1] beside the i8 weight)");
}

// Sizes from runtime.json whose products overflow int64 (UB, found by fuzz_runtime_model): one-line errors.
TEST(RuntimeErrors, OverflowingSizesAreErrors) {
  Case c{"overflow", nn::TaskHead::SequenceClassification};
  nn::TaskModel model = make_model(c);
  const fs::path base = scratch("overflow");
  auto edit = [&](const std::string& name, auto&& change) {
    const fs::path d = base / name;
    exporter::export_runtime(*model, d);
    // The model files alone (no package.json): these check runtime.json and weights.bin, not the package.
    fs::remove(d / exporter::kPackageJson);
    nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "runtime.json"));
    change(j);
    std::ofstream(d / "runtime.json") << j.dump();
    return d;
  };
  const std::int64_t big = std::int64_t(1) << 32;
  fs::path d = edit("shape", [&](nlohmann::json& j) { j["tensors"][0]["shape"] = {big, big}; });
  expect_load_error(d, "has shape [4294967296, 4294967296], too large");
  d = edit("heads", [&](nlohmann::json& j) { j["layers"][0]["num_heads"] = std::int64_t(1) << 62; });
  expect_load_error(d, "runtime.json: layer 0 has 4611686018427387904 heads of 8, too many");
}

// A NaN in the weights (a corrupt or diverged model) gives NaN logits, never plausible numbers, and no undefined
// behaviour on the way: the activations' exp once converted NaN to an integer (found by fuzz_runtime_model, an
// abort under scripts/sanitize.sh). gelu uses erf, gelu_new tanh; the seq_cls pooler's tanh sees the NaN too.
TEST(RuntimeErrors, NanWeightsGiveNanLogits) {
  for (const char* act : {"gelu", "gelu_new"}) {
    Case c{"nan", nn::TaskHead::SequenceClassification, act};
    nn::TaskModel model = make_model(c);
    {
      at::NoGradGuard no_grad;
      for (auto& p : model->named_parameters())
        if (p.key() == "encoder.layer.0.intermediate.dense.bias")
          p.value()[0] = std::numeric_limits<float>::quiet_NaN();
    }
    const fs::path dir = scratch(std::string("nan_") + act);
    exporter::export_runtime(*model, dir);
    rt::Model m = rt::Model::load(dir);
    std::vector<std::int64_t> ids{1, 2, 3, 4}, ones(4, 1), zeros(4, 0);
    const auto& out = m.run(ids, zeros, ones, 2, 2);
    for (std::int64_t i = 0; i < out.logits_size(); ++i)
      EXPECT_TRUE(std::isnan(out.logits[i])) << act << " logit " << i;
  }
}

// Steady state: once every shape has run, a run allocates nothing (operator new and the malloc family counted,
// whatever library calls them) on the own kernels at every instruction set of this CPU, fp32 and int8. The
// oneDNN kernels are measured too, for the record: oneDNN 2.6 builds its argument map and execution context on
// the heap on every primitive execution, so there the count is bounded per execution and every block small.
TEST(RuntimeMemory, SteadyStateRunsAllocateNothing) {
#ifdef SLIMPIPE_TEST_ASAN
  GTEST_SKIP() << "counts allocations by replacing malloc, which AddressSanitizer owns in this build";
#endif
  struct Config {
    const char* name;
    bool int8;
    rt::Kernels kernels;
    const char* isa;
  };
  for (const Config& cfg :
       {Config{"fp32 own", false, rt::Kernels::Own, "auto"},
        Config{"fp32 own avx2 (OpenBLAS)", false, rt::Kernels::Own, "avx2"},
        Config{"int8 own", true, rt::Kernels::Own, "auto"}, Config{"int8 own avx2", true, rt::Kernels::Own, "avx2"},
        Config{"int8 own portable", true, rt::Kernels::Own, "portable"},
        Config{"fp32 onednn", false, rt::Kernels::OneDnn, "auto"},
        Config{"int8 onednn", true, rt::Kernels::OneDnn, "auto"}}) {
    const bool int8 = cfg.int8;
    Case c{"alloc", nn::TaskHead::SequenceClassification};
    nn::TaskModel model = make_model(c, 64, 2, 4);
    const fs::path dir = scratch(int8 ? "alloc_int8" : "alloc_fp32");
    if (int8)
      exporter::export_runtime(*model, calibrate(*model, {make_inputs(4, 16, 1)}), dir);
    else
      exporter::export_runtime(*model, dir);
    rt::set_threads(2);
    rt::Options options;
    options.kernels = cfg.kernels;
    options.isa = cfg.isa;
    std::optional<rt::Model> loaded;
    try {
      loaded.emplace(rt::Model::load(dir, options));
    } catch (const rt::Error& e) {
      std::cout << "[ " << cfg.name << " ] not on this CPU: " << e.what() << "\n";
      continue;
    }
    rt::Model& m = *loaded;
    std::vector<std::pair<std::int64_t, std::int64_t>> shapes{{4, 32}, {2, 16}, {1, 7}, {3, 32}};
    std::vector<std::vector<std::int64_t>> ids, types, masks;
    for (auto [b, s] : shapes) {
      auto in = make_inputs(b, s, 3);
      ids.push_back(flat(in.input_ids));
      types.push_back(flat(in.token_type_ids));
      masks.push_back(flat(in.attention_mask));
      m.run(ids.back(), types.back(), masks.back(), b, s);  // first sight of each shape may allocate
    }
    g_allocs = 0;
    g_large = 0;
    g_count = true;
    for (int rep = 0; rep < 3; ++rep)
      for (std::size_t i = 0; i < shapes.size(); ++i)
        m.run(ids[i].data(), types[i].data(), masks[i].data(), shapes[i].first, shapes[i].second);
    g_count = false;
    const std::int64_t gemms = m.info().int8_linears + m.info().fp32_linears;
    // oneDNN executions per run: its Linear GEMMs and two per layer with integer attention.
    const std::int64_t executes =
        cfg.kernels == rt::Kernels::OneDnn ? m.info().onednn_linears + 2 * m.info().int8_attention_layers : 0;
    std::cout << "[ " << cfg.name << " ] kernels " << m.info().kernels << ": heap allocations in 12 steady-state runs ("
              << gemms << " GEMMs each, oneDNN executions " << executes << "): " << g_allocs.load()
              << " (of 4 KiB or more: " << g_large.load() << "); workspace " << m.workspace_bytes() << " bytes\n";
    EXPECT_EQ(g_large.load(), 0);
    if (cfg.kernels == rt::Kernels::Own) {
      EXPECT_EQ(g_allocs.load(), 0);
      EXPECT_EQ(m.info().onednn_linears, 0);
    } else {
      EXPECT_LE(g_allocs.load(), 12 * 16 * executes);
    }
  }
}

}  // namespace
