// Inputs the fuzz targets fuzz_pytorch_bin, fuzz_safetensors and fuzz_config_json (tests/fuzz) found to crash the
// checkpoint readers, each reduced to the few bytes that matter: now a one-line slimpipe::Error or a clean read.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "nn_test_support.hpp"
#include "slimpipe/io/pytorch_bin.hpp"
#include "slimpipe/io/safetensors.hpp"

namespace slimpipe::io {
namespace {

using namespace slimpipe::nn::testing;
namespace fs = std::filesystem;

// A pre-1.6 torch.save file (the legacy format): five pickles (magic number, protocol, sys_info, the object, its
// storage keys), then the storages' bytes. Each pickle is given without its PROTO 2 header and STOP.
std::string legacy_file(const std::string& object, const std::string& keys = "]", const std::string& storages = "") {
  auto pickle = [](const std::string& body) { return std::string("\x80\x02", 2) + body + "."; };
  const std::string magic("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12);  // LONG1 0x1950a86a20f9469cfc6c
  return pickle(magic) + pickle(std::string("M\xe9\x03", 3)) + pickle("}") + pickle(object) + pickle(keys) + storages;
}

fs::path write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  return file;
}

std::string le(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
// BININT (J) for 32-bit values, else LONG1 with 8 bytes.
std::string pickle_int(std::int64_t v) {
  if (v >= INT32_MIN && v <= INT32_MAX) return "J" + le(static_cast<std::uint64_t>(v), 4);
  return std::string("\x8a\x08", 2) + le(static_cast<std::uint64_t>(v), 8);
}
std::string pickle_str(const std::string& s) { return "X" + le(s.size(), 4) + s; }
std::string pickle_tuple(const std::vector<std::int64_t>& v) {
  std::string out = "(";
  for (auto x : v) out += pickle_int(x);
  return out + "t";
}

// {"w": _rebuild_tensor_v2(<float storage '0' of storage_numel elements>, offset, size, stride)}, its key list and
// the storage's count and bytes (`stored` elements, 4 bytes each). `view`: the legacy storage view tuple's body.
std::string legacy_tensor_file(std::int64_t storage_numel, std::int64_t offset, const std::vector<std::int64_t>& size,
                               const std::vector<std::int64_t>& stride, std::int64_t stored,
                               const std::string& view = "") {
  const std::string pid = "(" + pickle_str("storage") + "ctorch\nFloatStorage\n" + pickle_str("0") + pickle_str("cpu") +
                          pickle_int(storage_numel) + (view.empty() ? "" : "(" + view + "t") + "tQ";
  const std::string object = "}" + pickle_str("w") + "ctorch._utils\n_rebuild_tensor_v2\n(" + pid + pickle_int(offset) +
                             pickle_tuple(size) + pickle_tuple(stride) + "tRs";
  std::string data = le(static_cast<std::uint64_t>(stored), 8);
  for (std::int64_t i = 0; i < stored; ++i) {
    const float f = static_cast<float>(i + 1);
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    data += le(bits, 4);
  }
  return legacy_file(object, "]" + pickle_str("0") + "a", data);
}

TEST(PytorchBinFuzz, LegacyTensorFileReads) {
  const fs::path file = write_file(scratch_dir() / "ok.bin", legacy_tensor_file(4, 0, {2, 2}, {1, 2}, 4));
  const TensorMap t = read_pytorch_bin(file);
  ASSERT_EQ(t.count("w"), 1u);
  EXPECT_TRUE(t.at("w").equal(at::tensor({1.f, 3.f, 2.f, 4.f}).reshape({2, 2})));
}

// Element counts, sizes and strides are the file's word: each bad one is a one-line error, checked before anything
// is allocated or viewed (they were LibTorch exceptions, an allocation of exabytes or signed overflow).
TEST(PytorchBinFuzz, BadStorageAndViewSizesAreErrors) {
  const fs::path dir = scratch_dir();
  auto expect = [&](const std::string& name, const std::string& bytes, const std::string& message) {
    const fs::path file = write_file(dir / name, bytes);
    expect_error([&] { read_pytorch_bin(file); }, {file.string() + ": ", message});
  };
  expect("negative_storage", legacy_tensor_file(-1, 0, {1}, {1}, 0), "storage '0' has a negative size");
  expect("storage_beyond_file", legacy_tensor_file(std::int64_t(1) << 40, 0, {1}, {1}, 0),
         "storage '0' has 1099511627776 elements, more than the file holds");
  expect("stride_zero_expansion", legacy_tensor_file(1, 0, {1000000000, 1000000000}, {0, 0}, 1),
         "tensor view exceeds its storage");
  expect("size_overflow", legacy_tensor_file(1, 0, {std::int64_t(1) << 62, std::int64_t(1) << 62, 0}, {1, 1, 1}, 1),
         "tensor view exceeds its storage");
  expect("stride_overflow", legacy_tensor_file(4, 0, {2, 2}, {std::int64_t(1) << 62, std::int64_t(1) << 62}, 4),
         "tensor view exceeds its storage");
  expect("negative_size", legacy_tensor_file(1, 0, {-5}, {1}, 1), "tensor view exceeds its storage");
  expect("negative_stride", legacy_tensor_file(4, 3, {2}, {-1}, 4), "tensor view exceeds its storage");
  expect("view_outside", legacy_tensor_file(4, 0, {3}, {1}, 4, pickle_str("1") + pickle_int(10) + pickle_int(3)),
         "storage view outside storage '0'");
}

// LONG_BINPUT may name any 32-bit memo index; the memo was a vector sized to it (64 GB for index 2^32 - 16).
TEST(PytorchBinFuzz, LargeMemoIndexIsAMapEntry) {
  // {} memoized at 0xfffffff0, popped, fetched back with LONG_BINGET and returned.
  const fs::path dir = scratch_dir();
  const std::string object = std::string("}r\xf0\xff\xff\xff", 6) + "0" + std::string("j\xf0\xff\xff\xff", 5);
  const fs::path file = write_file(dir / "pytorch_model.bin", legacy_file(object));
  EXPECT_TRUE(read_pytorch_bin(file).empty());
  // An index never stored is a one-line error.
  const fs::path bad = write_file(dir / "bad.bin", legacy_file(std::string("j\x07\x00\x00\x00", 5)));
  expect_error([&] { read_pytorch_bin(bad); }, {bad.string() + ": not a readable torch.save file: memo index 7 unset"});
}

// Values popped below a MARK, then TUPLE: the MARK pointed past the stack and the tuple was built from a reversed
// range (std::length_error; found by fuzz_pytorch_bin).
TEST(PytorchBinFuzz, PopBelowMarkIsAnError) {
  const fs::path file = write_file(scratch_dir() / "pytorch_model.bin", legacy_file("](0t"));
  expect_error([&] { read_pytorch_bin(file); },
               {file.string() + ": not a readable torch.save file: stack underflow below MARK"});
}

// A shape whose element count wraps around 2^64 to a small number (here 0, matching empty data_offsets) or does not
// fit an int64 dimension: a one-line error, no longer a LibTorch exception from at::empty.
TEST(SafetensorsFuzz, ShapesTooLargeAreErrors) {
  const fs::path dir = scratch_dir();
  auto expect = [&](const std::string& name, const std::string& shape) {
    const std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,0]}}";
    const fs::path file = write_file(dir / name, le(header.size(), 8) + header);
    expect_error([&] { read_safetensors(file); },
                 {file.string() + ": tensor 'a': bad header entry, shape " + shape + " is too large"});
  };
  expect("wraps.safetensors", "[4294967296,4294967296]");
  expect("wraps_bytes.safetensors", "[2305843009213693952,8]");
  expect("beyond_int64.safetensors", "[9223372036854775808]");
}

}  // namespace
}  // namespace slimpipe::io
