// Reader of an exported runtime folder (docs/runtime.md): runtime.json parsed and checked, weights.bin
// mapped read-only. Every problem is a one-line Error naming the file and what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slimpipe_runtime::detail {

struct TensorView {
  std::string dtype;  // "f32" | "f16" | "i8"
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
  std::uint64_t bytes = 0;
  std::int64_t numel() const;
  const float* f32() const { return static_cast<const float*>(data); }
  const std::int8_t* i8() const { return static_cast<const std::int8_t*>(data); }
  const std::uint16_t* f16() const { return static_cast<const std::uint16_t*>(data); }  // IEEE binary16 bits
};

// Quantization record of one site (absent fields: not quantized).
struct SiteQuant {
  std::optional<float> input_threshold;                  // Linear operand 0
  std::optional<float> left_threshold, right_threshold;  // qk / pv MatMul operands
};

// A read-only mapping of a file, unmapped when it is destroyed: a member of ModelFile, so a check that throws
// from ModelFile's constructor after the mapping was made releases it too.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* data, std::uint64_t bytes) : data_(data), bytes_(bytes) {}
  ~Mapping();
  Mapping(Mapping&& other) noexcept { swap(other); }
  Mapping& operator=(Mapping&& other) noexcept {
    swap(other);  // this mapping, if any, is released with `other`
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const char* data() const { return static_cast<const char*>(data_); }

 private:
  void swap(Mapping& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
  }
  void* data_ = nullptr;
  std::uint64_t bytes_ = 0;
};

class ModelFile {
 public:
  explicit ModelFile(const std::filesystem::path& dir);
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const nlohmann::json& json() const { return json_; }
  std::string json_path() const { return json_path_.string(); }
  std::string weights_path() const { return weights_path_.string(); }
  std::uint64_t file_bytes() const { return file_bytes_; }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor, checked against `dtype` and `shape`; Error when missing or different.
  const TensorView& tensor(const std::string& name, const std::string& dtype,
                           const std::vector<std::int64_t>& shape) const;
  const TensorView* find(const std::string& name) const;

  // Required keys of runtime.json, checked for type.
  std::int64_t integer(const char* key) const;
  double number(const char* key) const;
  std::string string(const char* key) const;
  bool boolean(const char* key, bool fallback) const;

  SiteQuant site_quant(const std::string& site) const;  // empty for an fp32 model
  bool int8() const { return int8_; }

 private:
  // Parses runtime.json and checks its format, version and precision (sets int8_).
  void read_json(const std::filesystem::path& dir);
  // Maps weights.bin read-only after checking that it holds `expected` bytes; returns its size.
  std::uint64_t map_weights(std::uint64_t expected, const std::string& where);
  // Reads the 'tensors' array into views of the mapped weights (`size`: the bytes of weights.bin).
  void read_tensors(std::uint64_t size, const std::string& where);
  // One tensor's dtype, byte count (against its shape), extent within weights.bin and alignment.
  void check_tensor(const std::string& name, const TensorView& v, std::uint64_t offset, std::uint64_t size,
                    const std::string& where) const;
  // Reads the thresholds of an int8 model's 'quant' object.
  void read_quant(const std::string& where);

  std::filesystem::path json_path_, weights_path_;
  nlohmann::json json_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, SiteQuant> quant_;
  bool int8_ = false;
  Mapping map_;  // weights.bin (none when it is empty)
  std::uint64_t file_bytes_ = 0;
};

std::string shape_text(const std::vector<std::int64_t>& shape);

}  // namespace slimpipe_runtime::detail
