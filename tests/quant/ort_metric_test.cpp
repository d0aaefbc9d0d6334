// The QDQ model a PTQ cell exports, run in ONNX Runtime (npm onnxruntime-node) over the whole eval split, scores
// within 0.5 points of the fake-quant metric slimpipe reported for that cell.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/task.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path kOrtDir = fs::path(SLIMPIPE_SOURCE_DIR) / "scripts" / "npm" / "node_modules" / "onnxruntime-node";
const fs::path kRunner = fs::path(SLIMPIPE_SOURCE_DIR) / "tests" / "sdk_export" / "run_onnx.js";
const fs::path kPlugins = fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins";

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::int64_t> flat(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

const char* kTask = R"(
[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 1500
synthetic_eval_size = 400
max_seq_length = 32
)";

}  // namespace

TEST(PtqOnnxRuntime, QdqModelScoresWithinHalfAPointOfFakeQuant) {
  if (std::system("command -v node > /dev/null 2>&1") != 0) GTEST_SKIP() << "node is not on PATH";
  if (!fs::exists(kOrtDir / "package.json")) GTEST_SKIP() << kOrtDir.string() << " is absent (run scripts/setup.sh)";
  for (const char* lib : {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_ptq.so"})
    if (!fs::exists(kPlugins / lib))
      GTEST_FAIL() << (kPlugins / lib).string()
                   << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const fs::path dir = fs::temp_directory_path() / ("slimpipe_ptq_ort_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "p.toml")
      << "[pipeline]\nname = \"ort\"\noutput_dir = \"out\"\nseed = 5\nthreads_per_instance = 1\n"
      << kTask
      << "\n[nodes.train]\ntype = \"finetune\"\ninputs = []\nfrom_scratch = true\n"
         "hidden_size = 32\nnum_hidden_layers = 2\nnum_attention_heads = 2\n"
         "intermediate_size = 64\nmax_position_embeddings = 32\nlearning_rate = 3e-3\n"
         "num_train_epochs = 3\nsave_steps = 1000\n"
         "\n[nodes.quant]\ntype = \"ptq\"\ninputs = [\"train\"]\nalgo = \"hist\"\n"
         "batch_size = 8\nbatch_num = 2\nper_device_eval_batch_size = 100\n";
  const std::string cmd = std::string(SLIMPIPE_CLI) + " run '" + (dir / "p.toml").string() + "' -q > '" +
                          (dir / "run.log").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_text(dir / "run.log");
  // Scalars only (no matrix): one instance, whose artifact is the node's folder.
  const fs::path cell = dir / "out" / "quant";
  ASSERT_TRUE(fs::exists(cell / "model.int8.onnx")) << read_text(dir / "run.log");
  const double fake_quant = read_json(cell / "manifest.json")["metrics"]["accuracy"].get<double>();

  // The same eval features the pipeline scored: the task plugin, configured from the same table.
  auto info = slimpipe::core::PluginRegistry::load(kPlugins / "libslimpipe_task_seq_cls.so");
  auto task = slimpipe::core::PluginRegistry::create_task(info);
  const nlohmann::json table = {
      {"source", "synthetic"}, {"synthetic_train_size", 1500}, {"synthetic_eval_size", 400}, {"max_seq_length", 32}};
  slimpipe::configure_task(*task, slimpipe::resolve_params(info.schema, table, "[task]"));
  const auto tokenizer = slimpipe::text::WordPieceTokenizer::from_directory(cell);
  const auto eval = task->features("eval", tokenizer, 32);
  nlohmann::json request{{"calls", nlohmann::json::array()}};
  std::vector<at::Tensor> labels;
  for (std::int64_t begin = 0; begin < eval->size(); begin += 100) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = begin; i < std::min(eval->size(), begin + 100); ++i) idx.push_back(i);
    const slimpipe::Batch b = eval->collate(idx);
    at::Tensor tt = b.inputs.token_type_ids.defined() ? b.inputs.token_type_ids : at::zeros_like(b.inputs.input_ids);
    request["calls"].push_back({{"shape", b.inputs.input_ids.sizes().vec()},
                                {"input_ids", flat(b.inputs.input_ids)},
                                {"token_type_ids", flat(tt)},
                                {"attention_mask", flat(b.inputs.attention_mask)}});
    labels.push_back(b.targets.at("labels"));
  }
  std::ofstream(dir / "inputs.json") << request.dump();
  const std::string node = "node '" + kRunner.string() + "' '" + kOrtDir.string() + "' '" +
                           (cell / "model.int8.onnx").string() + "' '" + (dir / "inputs.json").string() + "' '" +
                           (dir / "outputs.json").string() + "' > '" + (dir / "node.log").string() + "' 2>&1";
  ASSERT_EQ(std::system(node.c_str()), 0) << read_text(dir / "node.log");
  const auto response = read_json(dir / "outputs.json");
  std::int64_t correct = 0, total = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& out = response["calls"][i]["logits"];
    const auto dims = out["dims"].get<std::vector<std::int64_t>>();
    const auto data = out["data"].get<std::vector<float>>();
    at::Tensor logits = at::tensor(data).reshape(dims);
    correct += logits.argmax(1).eq(labels[i]).sum().item<std::int64_t>();
    total += labels[i].numel();
  }
  const double ort = 100.0 * static_cast<double>(correct) / static_cast<double>(total);
  std::printf("[ PTQ in ORT ] eval accuracy: ONNX Runtime %.2f, slimpipe fake-quant %.2f (%lld examples)\n", ort,
              fake_quant, static_cast<long long>(total));
  EXPECT_EQ(total, 400);
  EXPECT_NEAR(ort, fake_quant, 0.5);
  fs::remove_all(dir);
}
