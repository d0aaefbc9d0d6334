// A pytorch_model.bin whose pickle nests lists a million deep is an Error naming the file, not a stack overflow
// while the nested values are freed.
#include <gtest/gtest.h>

#include <fstream>

#include "nn_test_support.hpp"
#include "slimpipe/io/pytorch_bin.hpp"

namespace slimpipe::io {
namespace {

using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

TEST(PytorchBinNesting, DeeplyNestedListsAreAnErrorNotACrash) {
  const fs::path file = scratch_dir() / "pytorch_model.bin";
  constexpr std::size_t kDepth = 1000000;
  std::string bytes;
  // Legacy torch.save: the magic number (LONG1), the protocol version, sys_info, then the object.
  bytes += std::string("\x80\x02\x8a\x0a", 4) + std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10) + ".";
  bytes += std::string("\x80\x02K\xe9.", 5);
  bytes += std::string("\x80\x02}.", 4);
  // [[[[...]]]]: a million EMPTY_LISTs, each APPENDed into the one below it.
  bytes += std::string("\x80\x02", 2) + std::string(kDepth, ']') + std::string(kDepth - 1, 'a') + ".";
  std::ofstream(file, std::ios::binary) << bytes;
  expect_error([&] { read_pytorch_bin(file); }, {file.string() + ": "});
}

}  // namespace
}  // namespace slimpipe::io
