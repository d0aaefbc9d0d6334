// torch.save files (pytorch_model.bin), zip and legacy formats, read with the pickle machine of pickle.hpp.
#include "slimpipe/io/pytorch_bin.hpp"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <unordered_map>
#include <vector>

#include "pickle.hpp"

namespace slimpipe::io {
namespace {

using pickle::int_tuple;
using pickle::make;
using pickle::Py;
using pickle::PyRef;
using pickle::storage_dtype;
using pickle::Unpickler;

// ('storage', StorageType, key, location, numel[, view_metadata]) -> a fresh 1-D tensor of that dtype.
struct StorageRef {
  std::string key;
  at::ScalarType dtype;
  std::int64_t numel;
  PyRef view;  // legacy format: (view_key, offset, size) or None
};

StorageRef parse_pid(const PyRef& pid, const std::string& where) {
  const auto& a = pid->items;
  if (pid->kind != Py::Tuple || a.size() < 5 || a[0]->kind != Py::Str || a[0]->s != "storage" ||
      a[1]->kind != Py::Global || a[2]->kind != Py::Str || a[4]->kind != Py::Int)
    throw Error(where + ": not a readable torch.save file: unexpected persistent id");
  if (a[4]->i < 0)
    throw Error(where + ": not a readable torch.save file: storage '" + a[2]->s + "' has a negative size");
  return {a[2]->s, storage_dtype(a[1]->s, where), a[4]->i, a.size() > 5 ? a[5] : nullptr};
}

std::vector<char> read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": file not found");
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

PyRef load_zip(const std::filesystem::path& file, const std::string& where) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(file.string());
    auto [pkl_ptr, pkl_size] = reader.getRecord("data.pkl");
    std::vector<char> pkl(static_cast<const char*>(pkl_ptr.get()), static_cast<const char*>(pkl_ptr.get()) + pkl_size);
    std::unordered_map<std::string, at::Tensor> storages;
    auto load = [&](const PyRef& pid) {
      StorageRef ref = parse_pid(pid, where);
      auto it = storages.find(ref.key);
      if (it == storages.end()) {
        auto [ptr, size] = reader.getRecord("data/" + ref.key);
        // Sizes compared before allocating: the pickle's element count is the file's word, the record is real.
        const std::size_t elem = c10::elementSize(ref.dtype);
        if (static_cast<std::uint64_t>(ref.numel) > size / elem || size != static_cast<std::size_t>(ref.numel) * elem)
          throw Error(where + ": storage '" + ref.key + "' holds " + std::to_string(size) + " bytes, expected " +
                      std::to_string(ref.numel) + " elements of " + std::to_string(elem) + " bytes");
        at::Tensor s = at::empty({ref.numel}, at::TensorOptions().dtype(ref.dtype));
        if (size) std::memcpy(s.data_ptr(), ptr.get(), size);
        it = storages.emplace(ref.key, s).first;
      }
      auto t = make(Py::Tensor);
      t->tensor = it->second;
      return t;
    };
    return Unpickler(pkl, 0, load, where).run();
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw Error(where + ": not a readable torch.save zip archive (" + what.substr(0, what.find('\n')) + ")");
  }
}

// Pre-1.6 torch.save: pickles of magic number, protocol, sys_info, the object and its storage keys, then each
// storage as an int64 element count and raw bytes.
PyRef load_legacy(const std::filesystem::path& file, const std::string& where) {
  std::vector<char> bytes = read_all(file);
  std::unordered_map<std::string, at::Tensor> roots;
  auto load = [&](const PyRef& pid) {
    StorageRef ref = parse_pid(pid, where);
    auto it = roots.find(ref.key);
    // The storage's bytes follow the pickles in this file: a count larger than the file is corrupt (and is not
    // allocated).
    if (it == roots.end()) {
      if (static_cast<std::uint64_t>(ref.numel) > bytes.size() / c10::elementSize(ref.dtype))
        throw Error(where + ": storage '" + ref.key + "' has " + std::to_string(ref.numel) +
                    " elements, more than the file holds");
      it = roots.emplace(ref.key, at::empty({ref.numel}, at::TensorOptions().dtype(ref.dtype))).first;
    }
    auto t = make(Py::Tensor);
    t->tensor = it->second;
    if (ref.view && ref.view->kind == Py::Tuple && ref.view->items.size() == 3) {
      const auto& v = ref.view->items;
      if (v[1]->kind != Py::Int || v[2]->kind != Py::Int || v[1]->i < 0 || v[2]->i < 0 ||
          v[1]->i > it->second.numel() || v[2]->i > it->second.numel() - v[1]->i)
        throw Error(where + ": not a readable torch.save file: storage view outside storage '" + ref.key + "'");
      t->tensor = it->second.narrow(0, v[1]->i, v[2]->i);
    }
    return t;
  };
  auto no_persistent = [&](const PyRef&) -> PyRef {
    throw Error(where + ": not a readable torch.save file: persistent id outside the object pickle");
  };
  std::size_t pos = 0;
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);  // 0x1950a86a20f9469cfc6c
  const std::string not_torch = where + ": not a torch.save file (no zip archive and no legacy magic number)";
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) != 0x80) throw Error(not_torch);  // PROTO opcode
  PyRef magic;
  try {
    Unpickler u(bytes, pos, no_persistent, where);
    magic = u.run();
    pos = u.pos();
  } catch (const Error&) {
    throw Error(not_torch);
  }
  if (magic->kind != Py::BigInt || magic->s != kMagic) throw Error(not_torch);
  for (int k = 0; k < 2; ++k) {  // protocol version, sys_info
    Unpickler u(bytes, pos, no_persistent, where);
    u.run();
    pos = u.pos();
  }
  Unpickler body(bytes, pos, load, where);
  PyRef result = body.run();
  Unpickler keys_u(bytes, body.pos(), no_persistent, where);
  PyRef keys = keys_u.run();
  pos = keys_u.pos();
  for (const auto& key : keys->items) {
    auto it = roots.find(key->s);
    if (it == roots.end()) throw Error(where + ": storage '" + key->s + "' is listed but never used");
    if (bytes.size() - pos < 8) throw Error(where + ": truncated in the storage data");
    std::int64_t count = 0;
    std::memcpy(&count, bytes.data() + pos, 8);
    pos += 8;
    const std::size_t nbytes = static_cast<std::size_t>(count) * it->second.element_size();
    if (count != it->second.numel() || bytes.size() - pos < nbytes)
      throw Error(where + ": truncated or corrupt storage '" + key->s + "'");
    if (nbytes) std::memcpy(it->second.data_ptr(), bytes.data() + pos, nbytes);
    pos += nbytes;
  }
  return result;
}

}  // namespace

TensorMap read_pytorch_bin(const std::filesystem::path& file) {
  const std::string where = file.string();
  char head[4] = {0, 0, 0, 0};
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(where + ": file not found");
    in.read(head, 4);
  }
  PyRef root = std::memcmp(head, "PK\x03\x04", 4) == 0 ? load_zip(file, where) : load_legacy(file, where);
  if (root->kind != Py::Dict) throw Error(where + ": expected a dict of tensors (a state dict)");
  TensorMap out;
  for (const auto& [k, v] : root->dict) {
    if (k->kind != Py::Str || v->kind != Py::Tensor) continue;
    // Own compact memory: a view would pin the whole storage and may share it with other entries.
    out[k->s] = v->tensor.clone(at::MemoryFormat::Contiguous);
  }
  return out;
}

}  // namespace slimpipe::io
