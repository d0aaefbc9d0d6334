// A small pickle machine for torch.save files. LibTorch 1.13's pickle_load rejects what Python's torch.save
// writes for a state dict (SETITEMS, OrderedDict state), so the opcodes a state dict uses are run here.
#include "slimpipe/io/pytorch_bin.hpp"

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

namespace slimpipe::io {
namespace {

struct Py;
using PyRef = std::shared_ptr<Py>;

// The Python values a state dict pickle builds. Dicts keep insertion order (OrderedDict).
struct Py {
  enum Kind { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Tensor } kind = None;
  std::int64_t i = 0;
  double f = 0;
  std::string s;  // Str, Bytes, Global ("module.name"), BigInt (little-endian bytes)
  std::vector<PyRef> items;
  std::vector<std::pair<PyRef, PyRef>> dict;
  at::Tensor tensor;  // Tensor: a view of its storage until the file is fully read

  Py() = default;
  Py(const Py&) = delete;
  Py& operator=(const Py&) = delete;
  // Without recursion: a pickle of lists nested a million deep would otherwise overflow the stack as the
  // shared_ptr chain unwinds. Children this value is the last owner of are dismantled from a work list.
  ~Py() {
    std::vector<PyRef> pending;
    auto detach = [&pending](Py& p) {
      for (auto& child : p.items)
        if (child) pending.push_back(std::move(child));
      for (auto& [k, v] : p.dict) {
        if (k) pending.push_back(std::move(k));
        if (v) pending.push_back(std::move(v));
      }
      p.items.clear();
      p.dict.clear();
    };
    detach(*this);
    while (!pending.empty()) {
      PyRef child = std::move(pending.back());
      pending.pop_back();
      if (child.use_count() == 1) detach(*child);  // destroyed at the end of this iteration, childless
    }
  }
};

PyRef make(Py::Kind k) {
  auto p = std::make_shared<Py>();
  p->kind = k;
  return p;
}

at::ScalarType storage_dtype(const std::string& global, const std::string& where) {
  static const std::unordered_map<std::string, at::ScalarType> types = {
      {"torch.DoubleStorage", at::kDouble}, {"torch.FloatStorage", at::kFloat},   {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong}, {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},     {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  auto it = types.find(global);
  if (it == types.end()) throw Error(where + ": unsupported storage type '" + global + "'");
  return it->second;
}

class Unpickler {
 public:
  using PersistentLoad = std::function<PyRef(const PyRef&)>;
  Unpickler(const std::vector<char>& data, std::size_t pos, PersistentLoad load, std::string where)
      : data_(data), pos_(pos), load_(std::move(load)), where_(std::move(where)) {}

  PyRef run();
  std::size_t pos() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(where_ + ": not a readable torch.save file: " + msg + " (at byte " + std::to_string(pos_) + ")");
  }
  const unsigned char* take(std::size_t n) {
    if (n > data_.size() - pos_) fail("truncated");
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data()) + pos_;
    pos_ += n;
    return p;
  }
  std::uint64_t uint_le(std::size_t n) {
    const unsigned char* p = take(n);
    std::uint64_t v = 0;
    for (std::size_t k = n; k-- > 0;) v = (v << 8) | p[k];
    return v;
  }
  std::string line() {
    std::size_t end = pos_;
    while (end < data_.size() && data_[end] != '\n') ++end;
    if (end == data_.size()) fail("truncated");
    std::string s(data_.data() + pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  PyRef pop() {
    if (stack_.empty()) fail("stack underflow");
    PyRef v = stack_.back();
    stack_.pop_back();
    return v;
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) fail("missing MARK");
    std::size_t m = marks_.back();
    marks_.pop_back();
    // Values popped since the MARK took it with them (Python: "unpickling stack underflow").
    if (m > stack_.size()) fail("stack underflow below MARK");
    std::vector<PyRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  PyRef& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  // The memo is a map, as Python's: a BINPUT / LONG_BINPUT index may be any 32-bit number (a vector sized to it
  // took gigabytes for a few bytes of input).
  void memo_put(std::size_t idx) { memo_[idx] = top(); }
  PyRef memo_get(std::size_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo index " + std::to_string(idx) + " unset");
    return it->second;
  }
  PyRef string(std::size_t n, Py::Kind kind) {
    auto p = make(kind);
    const unsigned char* b = take(n);
    p->s.assign(reinterpret_cast<const char*>(b), n);
    return p;
  }
  void set_items(PyRef& dict, const std::vector<PyRef>& kv) {
    if (dict->kind != Py::Dict) fail("SETITEMS on a non-dict");
    for (std::size_t k = 0; k + 1 < kv.size(); k += 2) dict->dict.emplace_back(kv[k], kv[k + 1]);
  }
  PyRef reduce(const PyRef& callable, const PyRef& args);

  const std::vector<char>& data_;
  std::size_t pos_;
  PersistentLoad load_;
  std::string where_;
  std::vector<PyRef> stack_;
  std::unordered_map<std::size_t, PyRef> memo_;
  std::vector<std::size_t> marks_;
};

std::vector<std::int64_t> int_tuple(const PyRef& t, const std::string& where) {
  std::vector<std::int64_t> v;
  if (t->kind != Py::Tuple && t->kind != Py::List) throw Error(where + ": tensor size/stride is not a tuple");
  for (const auto& e : t->items) {
    if (e->kind != Py::Int) throw Error(where + ": tensor size/stride holds a non-integer");
    v.push_back(e->i);
  }
  return v;
}

PyRef Unpickler::reduce(const PyRef& callable, const PyRef& args) {
  if (callable->kind != Py::Global) fail("call of a non-global");
  const std::string& name = callable->s;
  const auto& a = args->items;
  if (name == "collections.OrderedDict" || name == "builtins.dict") return make(Py::Dict);
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
    if (a.size() < 4 || a[0]->kind != Py::Tensor || a[1]->kind != Py::Int) fail("bad arguments to " + name);
    const at::Tensor& storage = a[0]->tensor;
    std::vector<std::int64_t> size = int_tuple(a[2], where_), stride = int_tuple(a[3], where_);
    if (size.size() != stride.size()) fail("tensor size and stride differ in rank");
    // The highest element the view touches must lie inside the storage, and the view may not hold more elements
    // than the storage (only a stride-0 view could; its clone would be unbounded). Overflow-checked, since sizes
    // and strides come from the file.
    std::int64_t last = a[1]->i, numel = 1;
    bool bad = a[1]->i < 0;
    for (std::size_t d = 0; d < size.size() && !bad; ++d) {
      std::int64_t reach = 0;
      bad = size[d] < 0 || stride[d] < 0 || __builtin_mul_overflow(numel, size[d], &numel) ||
            (size[d] > 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &reach) ||
                             __builtin_add_overflow(last, reach, &last)));
    }
    if (bad || (numel > 0 && (last >= storage.numel() || numel > storage.numel()))) fail("tensor view exceeds its storage");
    auto t = make(Py::Tensor);
    t->tensor = storage.as_strided(size, stride, storage.storage_offset() + a[1]->i);
    return t;
  }
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Py::Tensor) fail("bad arguments to " + name);
    return a[0];
  }
  fail("unsupported object '" + name + "'");
}

PyRef Unpickler::run() {
  for (;;) {
    const unsigned char op = *take(1);
    switch (op) {
      case 0x80: take(1); break;                   // PROTO
      case 0x95: take(8); break;                   // FRAME
      case '.': return pop();                      // STOP
      case '(': marks_.push_back(stack_.size()); break;
      case 'N': stack_.push_back(make(Py::None)); break;
      case 0x88: case 0x89: {                      // NEWTRUE / NEWFALSE
        auto p = make(Py::Bool);
        p->i = op == 0x88;
        stack_.push_back(p);
        break;
      }
      case 'J': { auto p = make(Py::Int); p->i = static_cast<std::int32_t>(uint_le(4)); stack_.push_back(p); break; }
      case 'K': { auto p = make(Py::Int); p->i = static_cast<std::int64_t>(uint_le(1)); stack_.push_back(p); break; }
      case 'M': { auto p = make(Py::Int); p->i = static_cast<std::int64_t>(uint_le(2)); stack_.push_back(p); break; }
      case 0x8a: case 0x8b: {                      // LONG1 / LONG4: little-endian two's complement
        std::size_t n = static_cast<std::size_t>(uint_le(op == 0x8a ? 1 : 4));
        if (n > 8) {
          stack_.push_back(string(n, Py::BigInt));
          break;
        }
        const unsigned char* b = take(n);
        std::uint64_t v = 0;
        for (std::size_t k = n; k-- > 0;) v = (v << 8) | b[k];
        if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~std::uint64_t(0) << (8 * n);
        auto p = make(Py::Int);
        p->i = static_cast<std::int64_t>(v);
        stack_.push_back(p);
        break;
      }
      case 'G': {                                  // BINFLOAT, big-endian
        std::uint64_t bits = 0;
        const unsigned char* b = take(8);
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
        auto p = make(Py::Float);
        std::memcpy(&p->f, &bits, 8);
        stack_.push_back(p);
        break;
      }
      case 'X': stack_.push_back(string(uint_le(4), Py::Str)); break;
      case 0x8c: stack_.push_back(string(uint_le(1), Py::Str)); break;
      case 0x8d: stack_.push_back(string(uint_le(8), Py::Str)); break;
      case 'T': case 'B': stack_.push_back(string(uint_le(4), op == 'T' ? Py::Str : Py::Bytes)); break;
      case 'U': case 'C': stack_.push_back(string(uint_le(1), op == 'U' ? Py::Str : Py::Bytes)); break;
      case 0x8e: stack_.push_back(string(uint_le(8), Py::Bytes)); break;
      case ')': stack_.push_back(make(Py::Tuple)); break;
      case ']': stack_.push_back(make(Py::List)); break;
      case '}': stack_.push_back(make(Py::Dict)); break;
      case 't': case 'l': {
        auto p = make(op == 't' ? Py::Tuple : Py::List);
        p->items = pop_mark();
        stack_.push_back(p);
        break;
      }
      case 0x85: case 0x86: case 0x87: {           // TUPLE1..3
        auto p = make(Py::Tuple);
        p->items.resize(op - 0x84);
        for (std::size_t k = p->items.size(); k-- > 0;) p->items[k] = pop();
        stack_.push_back(p);
        break;
      }
      case 'd': {
        auto p = make(Py::Dict);
        set_items(p, pop_mark());
        stack_.push_back(p);
        break;
      }
      case 'a': {
        PyRef v = pop();
        if (top()->kind != Py::List) fail("APPEND to a non-list");
        top()->items.push_back(v);
        break;
      }
      case 'e': {
        auto items = pop_mark();
        if (top()->kind != Py::List) fail("APPENDS to a non-list");
        top()->items.insert(top()->items.end(), items.begin(), items.end());
        break;
      }
      case 's': {
        PyRef v = pop(), k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'q': memo_put(uint_le(1)); break;
      case 'r': memo_put(uint_le(4)); break;
      case 0x94: memo_put(memo_.size()); break;   // MEMOIZE
      case 'h': stack_.push_back(memo_get(uint_le(1))); break;
      case 'j': stack_.push_back(memo_get(uint_le(4))); break;
      case '0': pop(); break;
      case 'c': {                                  // GLOBAL "module\nname\n"
        auto p = make(Py::Global);
        std::string module = line();
        p->s = module + "." + line();
        stack_.push_back(p);
        break;
      }
      case 0x93: {                                 // STACK_GLOBAL
        PyRef name = pop(), module = pop();
        auto p = make(Py::Global);
        p->s = module->s + "." + name->s;
        stack_.push_back(p);
        break;
      }
      case 'Q': {                                  // BINPERSID
        PyRef pid = pop();
        stack_.push_back(load_(pid));
        break;
      }
      case 'R': {
        PyRef args = pop(), callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 0x81: {                                 // NEWOBJ cls args
        PyRef args = pop(), cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 'b': pop(); break;                      // BUILD: OrderedDict._metadata and tensor state, unused
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

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
  if (a[4]->i < 0) throw Error(where + ": not a readable torch.save file: storage '" + a[2]->s + "' has a negative size");
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
