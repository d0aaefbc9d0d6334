// Parses runtime.json and maps weights.bin (POSIX mmap: fp32 weights are used in place, never copied).
#include "model_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime::detail {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {
constexpr int kVersion = 1;

std::optional<float> threshold_at(const Json& site, const char* key, const std::string& where) {
  auto it = site.find(key);
  if (it == site.end()) return std::nullopt;
  if (!it->is_number() || !(it->get<double>() > 0))
    throw Error(where + ": quant threshold '" + key + "' must be a number > 0");
  return static_cast<float>(it->get<double>());
}
}  // namespace

ModelFile::ModelFile(const fs::path& dir) {
  json_path_ = dir / "runtime.json";
  read_json(dir);
  const std::string where = json_path_.string();
  weights_path_ = dir / string("weights_file");
  const std::uint64_t size = map_weights(static_cast<std::uint64_t>(integer("weights_bytes")), where);
  std::error_code ec;
  file_bytes_ = size + fs::file_size(json_path_, ec);
  read_tensors(size, where);
  if (int8_) read_quant(where);
}

void ModelFile::read_json(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir.string() + ": not a folder (expected an export of slimpipe::exporter::export_runtime)");
  std::ifstream in(json_path_);
  if (!in) throw Error(json_path_.string() + ": not found (expected an export of slimpipe::exporter::export_runtime)");
  try {
    json_ = Json::parse(in);
  } catch (const Json::exception& e) {
    throw Error(json_path_.string() + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  const std::string where = json_path_.string();
  if (!json_.is_object() || json_.value("format", std::string()) != "slimpipe-runtime")
    throw Error(where + ": not a slimpipe runtime model (expected \"format\": \"slimpipe-runtime\")");
  const std::int64_t version = integer("version");
  if (version != kVersion)
    throw Error(where + ": format version " + std::to_string(version) + ", this runtime reads version " +
                std::to_string(kVersion));
  const std::string precision = string("precision");
  if (precision != "fp32" && precision != "int8")
    throw Error(where + ": precision '" + precision + "', expected fp32 or int8");
  int8_ = precision == "int8";
}

std::uint64_t ModelFile::map_weights(std::uint64_t expected, const std::string& where) {
  int fd = ::open(weights_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(weights_path_.string() + ": cannot open (" + std::strerror(errno) + "), expected the weights of " +
                where);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(weights_path_.string() + ": cannot stat (" + std::strerror(errno) + ")");
  }
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (size != expected) {
    ::close(fd);
    throw Error(weights_path_.string() + ": " + std::to_string(size) + " bytes, runtime.json expects " +
                std::to_string(expected) + " (truncated or from another export)");
  }
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(weights_path_.string() + ": cannot map (" + std::strerror(err) + ")");
    }
    map_ = Mapping(p, size);
  }
  ::close(fd);
  return size;
}

void ModelFile::read_tensors(std::uint64_t size, const std::string& where) {
  auto tensors = json_.find("tensors");
  if (tensors == json_.end() || !tensors->is_array()) throw Error(where + ": missing array 'tensors'");
  for (const Json& t : *tensors) {
    if (!t.is_object() || !t.contains("name") || !t.contains("dtype") || !t.contains("shape") ||
        !t.contains("offset") || !t.contains("bytes"))
      throw Error(where + ": a 'tensors' entry lacks name, dtype, shape, offset or bytes");
    TensorView v;
    std::string name;
    try {
      name = t.at("name").get<std::string>();
      v.dtype = t.at("dtype").get<std::string>();
      v.shape = t.at("shape").get<std::vector<std::int64_t>>();
      const auto offset = t.at("offset").get<std::uint64_t>();
      v.bytes = t.at("bytes").get<std::uint64_t>();
      check_tensor(name, v, offset, size, where);
      v.data = map_.data() + offset;
    } catch (const Json::exception& e) {
      throw Error(where + ": malformed 'tensors' entry (" + std::string(e.what()) + ")");
    }
    tensors_[name] = v;
  }
}

void ModelFile::check_tensor(const std::string& name, const TensorView& v, std::uint64_t offset, std::uint64_t size,
                             const std::string& where) const {
  if (v.dtype != "f32" && v.dtype != "f16" && v.dtype != "i8")
    throw Error(where + ": tensor " + name + " has dtype '" + v.dtype + "', expected f32, f16 or i8");
  // Bytes the shape needs, overflow-checked (the dimensions are the file's word).
  std::uint64_t need = v.dtype == "f32" ? 4 : v.dtype == "f16" ? 2 : 1;
  for (auto d : v.shape) {
    if (d < 0) throw Error(where + ": tensor " + name + " has a negative dimension");
    if (__builtin_mul_overflow(need, static_cast<std::uint64_t>(d), &need))
      throw Error(where + ": tensor " + name + " has shape " + shape_text(v.shape) + ", too large");
  }
  if (need != v.bytes)
    throw Error(where + ": tensor " + name + " has " + std::to_string(v.bytes) + " bytes, its shape needs " +
                std::to_string(need));
  if (offset > size || v.bytes > size - offset)
    throw Error(where + ": tensor " + name + " lies outside " + weights_path_.filename().string() + " (" +
                std::to_string(size) + " bytes)");
  if ((v.dtype == "f32" && offset % 4 != 0) || (v.dtype == "f16" && offset % 2 != 0))
    throw Error(where + ": tensor " + name + " is not aligned to its element size");
}

void ModelFile::read_quant(const std::string& where) {
  auto q = json_.find("quant");
  if (q == json_.end() || !q->is_object()) throw Error(where + ": int8 model without a 'quant' object");
  if (q->value("bits", 0) != 8) throw Error(where + ": quant.bits must be 8");
  auto sites = q->find("sites");
  if (sites == q->end() || !sites->is_object()) throw Error(where + ": missing object 'quant.sites'");
  for (auto it = sites->begin(); it != sites->end(); ++it) {
    SiteQuant s;
    s.input_threshold = threshold_at(it.value(), "input_threshold", where);
    s.left_threshold = threshold_at(it.value(), "left_threshold", where);
    s.right_threshold = threshold_at(it.value(), "right_threshold", where);
    quant_[it.key()] = s;
  }
}

Mapping::~Mapping() {
  if (data_) ::munmap(data_, bytes_);
}

const TensorView* ModelFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& ModelFile::tensor(const std::string& name, const std::string& dtype,
                                    const std::vector<std::int64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw Error(json_path_.string() + ": tensor " + name + " is missing (expected " + dtype + " " + shape_text(shape) +
                ")");
  if (it->second.dtype != dtype || it->second.shape != shape)
    throw Error(json_path_.string() + ": tensor " + name + " is " + it->second.dtype + " " +
                shape_text(it->second.shape) + ", expected " + dtype + " " + shape_text(shape));
  return it->second;
}

std::int64_t ModelFile::integer(const char* key) const {
  auto it = json_.find(key);
  if (it == json_.end() || !it->is_number_integer())
    throw Error(json_path_.string() + ": missing integer '" + key + "'");
  return it->get<std::int64_t>();
}

double ModelFile::number(const char* key) const {
  auto it = json_.find(key);
  if (it == json_.end() || !it->is_number()) throw Error(json_path_.string() + ": missing number '" + key + "'");
  return it->get<double>();
}

std::string ModelFile::string(const char* key) const {
  auto it = json_.find(key);
  if (it == json_.end() || !it->is_string()) throw Error(json_path_.string() + ": missing string '" + key + "'");
  return it->get<std::string>();
}

bool ModelFile::boolean(const char* key, bool fallback) const {
  auto it = json_.find(key);
  if (it == json_.end()) return fallback;
  if (!it->is_boolean()) throw Error(json_path_.string() + ": '" + key + "' must be true or false");
  return it->get<bool>();
}

SiteQuant ModelFile::site_quant(const std::string& site) const {
  auto it = quant_.find(site);
  return it == quant_.end() ? SiteQuant{} : it->second;
}

}  // namespace slimpipe_runtime::detail
