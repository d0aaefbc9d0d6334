// Torch-free runtime tests of unusual models and corrupt folders: a layer with every attention head pruned (or
// with no FFN width) loads and runs on every kernel path this CPU has, with the outputs of an equivalent
// unpruned model; loads that fail after weights.bin was mapped release the mapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe_runtime/runtime.hpp"
#include "tiny_model.hpp"

namespace {

namespace fs = std::filesystem;
namespace rt = slimpipe_runtime;
using namespace rt::testing;  // TinyModel, write_tiny_model, scratch_dir
using Json = nlohmann::json;

// Every kernel path the tests exercise: the own kernels at the CPU's best instruction set and capped lower, and
// oneDNN's (fp32 Linears by its automatic choice, and always through oneDNN).
struct KernelPath {
  const char* label;
  rt::Kernels kernels;
  const char* isa;
  std::int64_t onednn_fp32_min_rows;
};
const KernelPath kPaths[] = {{"own", rt::Kernels::Own, "auto", -1},
                             {"own avx2", rt::Kernels::Own, "avx2", -1},
                             {"own portable", rt::Kernels::Own, "portable", -1},
                             {"onednn", rt::Kernels::OneDnn, "auto", -1},
                             {"onednn, fp32 always oneDNN", rt::Kernels::OneDnn, "auto", 0}};

// The model at `dir` loaded for `path`; nullopt where this CPU lacks the path's instruction set.
std::optional<rt::Model> load_for(const fs::path& dir, const KernelPath& path) {
  rt::Options options;
  options.kernels = path.kernels;
  options.isa = path.isa;
  options.onednn_fp32_min_rows = path.onednn_fp32_min_rows;
  try {
    return rt::Model::load(dir, options);
  } catch (const rt::Error& e) {
    const std::string what = e.what();
    if (what.find("this CPU's best is") == std::string::npos) throw;
    std::cout << "[ " << path.label << " ] not on this CPU: " << what << "\n";
    return std::nullopt;
  }
}

// Logits of two padded batches, (2, 5) and (3, 16), one after the other.
std::vector<float> logits_of(rt::Model& m) {
  std::vector<float> all;
  for (const auto& [b, s] : std::vector<std::pair<std::int64_t, std::int64_t>>{{2, 5}, {3, 16}}) {
    std::vector<std::int64_t> ids, types, mask;
    for (std::int64_t i = 0; i < b * s; ++i) {
      ids.push_back((i * 7 + 3) % 40);
      types.push_back(i % s < s / 2 ? 0 : 1);
      mask.push_back(i % s < s - (i / s) * 2 ? 1 : 0);  // row r: its last 2r tokens are padding
    }
    const rt::Output& out = m.run(ids, types, mask, b, s);
    all.insert(all.end(), out.logits, out.logits + out.logits_size());
  }
  return all;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// Loads and runs `model` on every kernel path: its logits agree across paths within the tolerance of the other
// runtime tests (fp32: 1e-4; INT8: 2 % of the largest logit) and, when a `reference` (an equivalent model) is
// given, equal its logits on the same path.
void expect_every_path_agrees(const std::string& name, const fs::path& model, const std::optional<fs::path>& reference,
                              bool int8, const std::function<void(const rt::ModelInfo&)>& check_info) {
  std::optional<std::vector<float>> first;
  for (const KernelPath& path : kPaths) {
    SCOPED_TRACE(name + " / " + path.label);
    std::optional<rt::Model> m = load_for(model, path);
    if (!m) continue;
    check_info(m->info());
    if (path.kernels == rt::Kernels::OneDnn && (int8 || path.onednn_fp32_min_rows == 0)) {
      EXPECT_EQ(m->info().onednn_linears, m->info().int8_linears + m->info().fp32_linears) << "every GEMM on oneDNN";
    }
    const std::vector<float> got = logits_of(*m);
    for (float v : got) ASSERT_TRUE(std::isfinite(v));
    float largest = 0, to_reference = 0;
    for (float v : got) largest = std::max(largest, std::abs(v));
    if (reference) {
      std::optional<rt::Model> r = load_for(*reference, path);
      ASSERT_TRUE(r);
      to_reference = max_abs_diff(got, logits_of(*r));
      EXPECT_LE(to_reference, 1e-5f) << "against the equivalent model";
    }
    if (!first) first = got;
    const float to_first = max_abs_diff(got, *first);
    EXPECT_LE(to_first, int8 ? 0.02f * largest : 1e-4f) << "against the first path";
    std::cout << "[ " << name << " / " << path.label << " ] kernels " << m->info().kernels << ", integer attention in "
              << m->info().int8_attention_layers << " layers; largest |logit| " << largest << ", max |Δ| against "
              << (reference ? "the equivalent model " + std::to_string(to_reference) + ", " : "") << "the first path "
              << to_first << "\n";
  }
  ASSERT_TRUE(first);
}

// DynaBERT can prune every head of a layer: its attention then adds only the output bias, exactly what a layer with
// heads but a zero attention.output.dense weight adds.
TEST(RuntimeZeroHeads, ALayerWithoutHeadsRunsOnEveryKernelPath) {
  for (const bool int8 : {false, true}) {
    const std::string kind = int8 ? "int8" : "fp32";
    TinyModel m;
    m.layers = 3;
    m.int8 = int8;
    m.layer_heads = {2, 0, 2};
    const fs::path dir = scratch_dir("zero_heads_" + kind);
    write_tiny_model(dir, m);
    m.layer_heads = {2, 2, 2};
    m.zero_attention_output_layer = 1;
    const fs::path ref = scratch_dir("zero_heads_" + kind + "_reference");
    write_tiny_model(ref, m);
    expect_every_path_agrees(kind, dir, ref, int8, [&](const rt::ModelInfo& info) {
      EXPECT_EQ(info.heads, (std::vector<std::int64_t>{2, 0, 2}));
      EXPECT_EQ(info.int8_attention_layers > 0, info.int8_attention_layers == 2) << "only layers with heads";
      // The layer without heads has no Q/K/V GEMM and no attention output GEMM (its input is empty).
      EXPECT_EQ(info.int8_linears + info.fp32_linears, 2 * 4 + 2 + 2);
      if (int8) {
        EXPECT_EQ(info.fp32_linears, 0);
      }
    });
  }
}

// An FFN pruned to width 0 adds only output.dense's bias: its first GEMM has no outputs, its second no inputs.
// Runs on every path with the same logits.
TEST(RuntimeZeroHeads, AnFfnOfWidthZeroRunsOnEveryKernelPath) {
  for (const bool int8 : {false, true}) {
    const std::string kind = int8 ? "int8" : "fp32";
    TinyModel m;
    m.int8 = int8;
    m.intermediate = 0;
    const fs::path dir = scratch_dir("zero_ffn_" + kind);
    write_tiny_model(dir, m);
    expect_every_path_agrees(kind + " ffn 0", dir, std::nullopt, int8, [](const rt::ModelInfo& info) {
      EXPECT_EQ(info.intermediate_sizes, (std::vector<std::int64_t>{0}));
      EXPECT_EQ(info.int8_linears + info.fp32_linears, 2 + 2);  // QKV, attention output, pooler, classifier
    });
  }
}

// Mappings of this process: lines of /proc/self/maps, and VmSize in KiB.
std::pair<std::int64_t, std::int64_t> mappings() {
  std::ifstream maps("/proc/self/maps");
  std::int64_t lines = 0, vm_kib = -1;
  for (std::string line; std::getline(maps, line);) ++lines;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stoll(line.substr(7));
  return {lines, vm_kib};
}

// A check of the ModelFile constructor that fails after weights.bin was mapped (a tensor's shape against its bytes,
// an int8 model's quant threshold) unmaps it again: 2000 failed loads leave the process's mappings as they were.
TEST(RuntimeLoad, FailedLoadsReleaseTheMappedWeights) {
  const fs::path shape = scratch_dir("corrupt_shape"), quant = scratch_dir("corrupt_quant");
  TinyModel m;
  m.vocab_size = 400;  // weights.bin of ~65 KiB: a leak of 2000 mappings would be 130 MiB
  write_tiny_model(shape, m);
  m.int8 = true;
  write_tiny_model(quant, m);
  auto edit = [](const fs::path& dir, const std::function<void(Json&)>& change) {
    Json j = Json::parse(rt::testing::read_bytes(dir / "runtime.json"));
    change(j);
    rt::testing::write_bytes(dir / "runtime.json", j.dump(1));
  };
  edit(shape, [](Json& j) { j["tensors"].back()["shape"] = {1, 2, 3}; });
  edit(quant, [](Json& j) { j["quant"]["sites"]["classifier"]["input_threshold"] = -1.0; });
  auto load_fails = [](const fs::path& dir, const std::string& expected) {
    try {
      rt::Model::load(dir);
      ADD_FAILURE() << dir << " loaded";
    } catch (const rt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  for (int i = 0; i < 20; ++i) {  // the first loads may map what stays (oneDNN, allocator arenas)
    load_fails(shape, "bytes, its shape needs");
    load_fails(quant, "must be a number > 0");
  }
  const auto [lines_before, vm_before] = mappings();
  for (int i = 0; i < 1000; ++i) {
    load_fails(shape, "bytes, its shape needs");
    load_fails(quant, "must be a number > 0");
  }
  const auto [lines_after, vm_after] = mappings();
  std::cout << "[ 2000 failed loads ] /proc/self/maps lines " << lines_before << " -> " << lines_after << ", VmSize "
            << vm_before << " -> " << vm_after << " KiB\n";
  EXPECT_LE(lines_after, lines_before + 4);
  EXPECT_LE(vm_after, vm_before + 16 * 1024);
}

}  // namespace
