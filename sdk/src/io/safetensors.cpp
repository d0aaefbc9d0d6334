// safetensors reader/writer. The reader trusts nothing in the header: every offset is checked against the
// file size before a byte is read, so a truncated or corrupt file is an Error, never a crash.
#include "slimpipe/io/safetensors.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/json_file.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::io {
namespace {

using Json = nlohmann::json;

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
const DtypeName kDtypes[] = {{"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
                             {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
                             {"U8", at::kByte},    {"BOOL", at::kBool}};

const char* dtype_name(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  return nullptr;
}

// Upstream safetensors rejects headers over 100 MB; so do we, before allocating them.
constexpr std::uint64_t kMaxHeader = 100u << 20;

// One tensor as the header describes it: where its bytes lie in the data section.
struct Entry {
  std::string name;
  at::ScalarType type;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

// Reads the 8-byte length and the JSON header that follows it; header_len receives the length.
Json read_header(std::ifstream& in, std::uint64_t size, const std::string& where, std::uint64_t& header_len) {
  if (size < 8)
    throw Error(where + ": truncated: " + std::to_string(size) + " bytes, no room for the 8-byte header length");
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeader)
    throw Error(where + ": bad header: length field says " + std::to_string(header_len) +
                " bytes (limit 100 MB); not a safetensors file?");
  if (header_len > size - 8)
    throw Error(where + ": truncated: header length says " + std::to_string(header_len) + " bytes, file has " +
                std::to_string(size - 8) + " after the length field");
  std::string header_text(static_cast<std::size_t>(header_len), '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_len));
  slimpipe::check_json_depth(header_text, where + ": bad header");
  Json header;
  try {
    header = Json::parse(header_text);
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw Error(where + ": bad header: not JSON (" + what.substr(0, what.find('\n')) + ")");
  }
  if (!header.is_object())
    throw Error(where + ": bad header: expected a JSON object, found " + std::string(header.type_name()));
  return header;
}

// Checks one header entry: a known dtype, a shape whose byte size does not overflow, and data_offsets that hold
// exactly that many bytes.
Entry parse_entry(const std::string& name, const Json& info, const std::string& where) {
  const std::string what = where + ": tensor '" + name + "'";
  if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
    throw Error(what + ": bad header entry, expected {dtype, shape, data_offsets}");
  if (!info["dtype"].is_string()) throw Error(what + ": bad header entry, dtype is not a string");
  const std::string dtype = info["dtype"].get<std::string>();
  auto d = std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](const DtypeName& n) { return dtype == n.name; });
  if (d == std::end(kDtypes))
    throw Error(what + " has unsupported dtype '" + dtype +
                "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
  Entry e{name, d->type, {}, 0, 0};
  std::uint64_t numel = 1;
  bool too_large = false;
  if (!info["shape"].is_array()) throw Error(what + ": bad header entry, shape is not a list");
  for (const auto& dim : info["shape"]) {
    if (!dim.is_number_unsigned()) throw Error(what + ": bad header entry, shape holds " + dim.dump());
    // A product that wraps around could match data_offsets and reach at::empty (a LibTorch exception).
    const std::uint64_t d = dim.get<std::uint64_t>();
    too_large = too_large || d > static_cast<std::uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, d, &numel);
    e.shape.push_back(static_cast<std::int64_t>(d));
  }
  if (too_large || numel > UINT64_MAX / at::elementSize(e.type))
    throw Error(what + ": bad header entry, shape " + info["shape"].dump() + " is too large");
  const Json& off = info["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    throw Error(what + ": bad header entry, data_offsets must be [begin, end]");
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  const std::uint64_t nbytes = numel * at::elementSize(e.type);
  if (e.end < e.begin || e.end - e.begin != nbytes)
    throw Error(what + ": bad header: data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] do not hold " + dtype + " " + nn::shape_string(e.shape) + " (" + std::to_string(nbytes) + " bytes)");
  return e;
}

// Reads every entry's bytes from the data section, which starts at data_start.
TensorMap read_entries(std::ifstream& in, const std::vector<Entry>& entries, std::uint64_t data_start,
                       const std::string& where) {
  TensorMap out;
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.type));
    if (e.end == e.begin) {
      out.emplace(e.name, std::move(t));
      continue;
    }
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) throw Error(where + ": read failed for tensor '" + e.name + "'");
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace

TensorMap read_safetensors(const std::filesystem::path& file) {
  const std::string where = file.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) throw Error(where + ": file not found");
  const std::uint64_t size = std::filesystem::file_size(file, ec);
  std::ifstream in(file, std::ios::binary);
  if (ec || !in) throw Error(where + ": cannot open for reading");
  std::uint64_t header_len = 0;
  const Json header = read_header(in, size, where, header_len);

  const std::uint64_t data_size = size - 8 - header_len;
  std::vector<Entry> entries;
  std::uint64_t data_end = 0;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    entries.push_back(parse_entry(name, info, where));
    data_end = std::max(data_end, entries.back().end);
  }
  if (data_end > data_size)
    throw Error(where + ": truncated: header describes " + std::to_string(data_end) +
                " bytes of tensor data, file has " + std::to_string(data_size));
  return read_entries(in, entries, 8 + header_len, where);
}

void write_safetensors(const std::filesystem::path& file, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = file.string();
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const char* dtype = dtype_name(tensor.scalar_type());
    if (!dtype)
      throw Error(where + ": tensor '" + name + "' has dtype " + std::string(c10::toString(tensor.scalar_type())) +
                  ", which safetensors cannot store here");
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps tensor data 8-byte aligned, as upstream does

  // Write beside the target and rename: a crash never leaves a half-written model.safetensors behind, and a
  // full disk is an Error naming the file.
  slimpipe::CheckedFile out(file, /*atomic=*/true);
  unsigned char len_bytes[8];
  std::uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(len >> (8 * i));
  out.write(len_bytes, 8);
  out.write(text);
  for (const auto& t : data) out.write(t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size());
  out.close();
}

}  // namespace slimpipe::io
