// Every writer of the SDK on a full disk: one Error naming the file ("<path>: write failed: No space left on
// device"), nothing left behind, and never std::terminate (LibTorch's own TorchScript writer throws from its
// destructor when the disk fills). Single-file writers go to /dev/full, which needs no privileges; writers that
// go through "<file>.tmp" get a 64 KiB tmpfs, and skip when it cannot be mounted (not root).
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "export_test_support.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/export/onnx_export.hpp"
#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/torchscript_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"
#include "slimpipe/text/tokenizer_options.hpp"

namespace slimpipe::exporter::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kNoSpace = ": write failed: No space left on device";

// Runs `fn`, returns the message of the slimpipe::Error it throws ("" and a failure when none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no slimpipe::Error thrown";
  return "";
}

TEST(CheckedFile, DevFullIsAnErrorNamingTheFileAndTheDeviceStays) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "/dev/full is absent";
  EXPECT_EQ(error_of([] { write_file_checked("/dev/full", std::string(100, 'x')); }),
            std::string("/dev/full") + kNoSpace);
  {
    CheckedFile file("/dev/full");
    EXPECT_EQ(error_of([&] { file.write(std::string(1 << 20, 'x')); }), std::string("/dev/full") + kNoSpace);
    EXPECT_FALSE(file.is_open());
  }
  EXPECT_TRUE(fs::exists("/dev/full")) << "a device is never removed as an incomplete file";
}

TEST(CheckedFile, UnclosedFileIsRemovedAndWrittenFileIsWhole) {
  const fs::path dir = scratch_dir();
  {
    CheckedFile file(dir / "partial.bin");
    file.write("abc");
  }  // destroyed open, as on an exception: incomplete
  EXPECT_FALSE(fs::exists(dir / "partial.bin"));
  {
    CheckedFile file(dir / "whole.bin", /*atomic=*/true);
    file.write("abc");
    EXPECT_FALSE(fs::exists(dir / "whole.bin")) << "visible before close";
    file.close();
  }
  EXPECT_EQ(read_text(dir / "whole.bin"), "abc");
  EXPECT_FALSE(fs::exists(dir / "whole.bin.tmp"));
  write_file_atomic(dir / "whole.bin", "defg");
  EXPECT_EQ(read_text(dir / "whole.bin"), "defg");
  EXPECT_EQ(error_of([&] { write_file_checked(dir / "missing" / "f", "x"); }),
            (dir / "missing" / "f").string() + ": cannot open for writing: No such file or directory");
}

// A 64 KiB tmpfs, mounted for one test and unmounted after it.
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/slimpipe_full_disk_XXXXXX";
    if (!::mkdtemp(pattern)) GTEST_SKIP() << "mkdtemp: " << std::strerror(errno);
    dir_ = pattern;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") != 0) {
      const std::string why = std::strerror(errno);
      fs::remove(dir_);
      dir_.clear();
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << why;
    }
  }
  void TearDown() override {
    if (dir_.empty()) return;
    ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove(dir_, ec);
  }
  // Leaves about `left` bytes free (tmpfs counts whole pages).
  void fill_leaving(std::uintmax_t left) {
    const std::uintmax_t available = fs::space(dir_).available;
    write_file_checked(dir_ / "filler", std::string(available > left ? available - left : 0, 'f'));
  }
  // Files left in the folder other than the filler: none may be a partial export.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir_))
      if (entry.is_regular_file() && entry.path().filename() != "filler")
        names.push_back(fs::relative(entry.path(), dir_).string());
    return names;
  }
  fs::path dir_;
};

TEST_F(FullDisk, TorchScriptExportIsAnErrorNotATerminate) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::SequenceClassification});  // ~90 KB of float weights
  const fs::path file = dir_ / "model.pt";
  EXPECT_EQ(error_of([&] { export_torchscript(*model, file); }), file.string() + kNoSpace);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(FullDisk, OnnxAndQdqExportsAreErrorsNamingTheFile) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::TokenClassification});
  EXPECT_EQ(error_of([&] { export_onnx(*model, dir_ / "model.onnx"); }), (dir_ / "model.onnx").string() + kNoSpace);
  fill_leaving(16 * 1024);  // the int8 file is smaller than the disk
  quant::FakeQuantPlan plan;
  for (const nn::LinearSite& site : nn::linear_sites(*model))
    plan.weights[site.name] = quant::quantize_weight(site.module->weight);
  for (const quant::SiteOperandKey& key : quant::activation_operands(*model)) plan.activation_thresholds[key] = 4.0;
  EXPECT_EQ(error_of([&] { export_qdq_onnx(*model, plan, dir_ / "model.int8.onnx"); }),
            (dir_ / "model.int8.onnx").string() + kNoSpace);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(FullDisk, RuntimeExportNamesWeightsBin) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::QuestionAnswering});
  EXPECT_EQ(error_of([&] { export_runtime(*model, dir_ / "runtime"); }),
            (dir_ / "runtime" / "weights.bin").string() + kNoSpace);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(FullDisk, SaveModelNamesModelSafetensors) {
  nn::TaskModel model = small_model({"full", nn::TaskHead::SequenceClassification});
  EXPECT_EQ(error_of([&] { io::save_model(dir_ / "model", *model); }),
            (dir_ / "model" / "model.safetensors").string() + kNoSpace);
  // config.json was written whole before the weights failed; no partial safetensors stays.
  EXPECT_EQ(leftovers(), std::vector<std::string>{"model/config.json"});
}

TEST_F(FullDisk, SmallJsonAndVocabWritersNameTheirFile) {
  fs::create_directories(dir_ / "m");
  fill_leaving(0);
  nn::TaskModel model = small_model({"full", nn::TaskHead::SequenceClassification});
  EXPECT_EQ(error_of([&] { model->config().save(dir_ / "config.json"); }), (dir_ / "config.json").string() + kNoSpace);
  EXPECT_EQ(error_of([&] { text::TokenizerOptions().save(dir_ / "tokenizer_config.json"); }),
            (dir_ / "tokenizer_config.json").string() + kNoSpace);
  EXPECT_EQ(error_of([&] {
              io::write_safetensors(dir_ / "t.safetensors", {{"w", at::ones({8})}});
            }),
            (dir_ / "t.safetensors").string() + kNoSpace);
  EXPECT_EQ(error_of([&] { io::save_model(dir_ / "m", *model); }), (dir_ / "m" / "config.json").string() + kNoSpace);
  EXPECT_EQ(error_of([&] { write_file_atomic(dir_ / "metrics.json", std::string(8192, ' ')); }),
            (dir_ / "metrics.json").string() + kNoSpace);
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
}

TEST_F(FullDisk, SaveModelNamesVocabTxt) {
  nn::EncoderConfig config;  // a few KB of weights: config.json and model.safetensors fit, the vocabulary does not
  config.vocab_size = 10;
  config.hidden_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 8;
  config.max_position_embeddings = 8;
  nn::TaskModel model(config, nn::TaskHead::SequenceClassification);
  io::SaveOptions options;
  options.vocab = std::vector<std::string>(20000, "a_longish_token");
  EXPECT_EQ(error_of([&] { io::save_model(dir_ / "m", *model, options); }),
            (dir_ / "m" / "vocab.txt").string() + kNoSpace);
  std::vector<std::string> left = leftovers();
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"m/config.json", "m/model.safetensors"}));
}

}  // namespace
}  // namespace slimpipe::exporter::testing
