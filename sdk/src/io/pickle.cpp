// The pickle machine (pickle.hpp).
#include "pickle.hpp"

#include <cstdio>
#include <cstring>

namespace slimpipe::io::pickle {

PyRef make(Py::Kind k) {
  auto p = std::make_shared<Py>();
  p->kind = k;
  return p;
}

at::ScalarType storage_dtype(const std::string& global, const std::string& where) {
  static const std::unordered_map<std::string, at::ScalarType> types = {
      {"torch.DoubleStorage", at::kDouble},     {"torch.FloatStorage", at::kFloat}, {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16}, {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},       {"torch.CharStorage", at::kChar},   {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool}};
  auto it = types.find(global);
  if (it == types.end()) throw Error(where + ": unsupported storage type '" + global + "'");
  return it->second;
}

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
            (size[d] > 0 &&
             (__builtin_mul_overflow(size[d] - 1, stride[d], &reach) || __builtin_add_overflow(last, reach, &last)));
    }
    if (bad || (numel > 0 && (last >= storage.numel() || numel > storage.numel())))
      fail("tensor view exceeds its storage");
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

// Each family below runs the opcodes it knows and returns false for any other, so run() tries them in turn.

bool Unpickler::run_control(unsigned char op) {
  switch (op) {
    case 0x80:
      take(1);
      return true;  // PROTO
    case 0x95:
      take(8);
      return true;  // FRAME
    case '(':
      marks_.push_back(stack_.size());
      return true;
    case '0':
      pop();
      return true;
    case 'b':
      pop();
      return true;  // BUILD: OrderedDict._metadata and tensor state, unused
    default:
      return false;
  }
}

void Unpickler::push_int(std::int64_t v) {
  auto p = make(Py::Int);
  p->i = v;
  stack_.push_back(p);
}

void Unpickler::push_long(unsigned char op) {  // LONG1 / LONG4: little-endian two's complement
  std::size_t n = static_cast<std::size_t>(uint_le(op == 0x8a ? 1 : 4));
  if (n > 8) {
    stack_.push_back(string(n, Py::BigInt));
    return;
  }
  const unsigned char* b = take(n);
  std::uint64_t v = 0;
  for (std::size_t k = n; k-- > 0;) v = (v << 8) | b[k];
  if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~std::uint64_t(0) << (8 * n);
  push_int(static_cast<std::int64_t>(v));
}

bool Unpickler::run_scalar(unsigned char op) {
  switch (op) {
    case 'N':
      stack_.push_back(make(Py::None));
      return true;
    case 0x88:
    case 0x89: {  // NEWTRUE / NEWFALSE
      auto p = make(Py::Bool);
      p->i = op == 0x88;
      stack_.push_back(p);
      return true;
    }
    case 'J':
      push_int(static_cast<std::int32_t>(uint_le(4)));
      return true;
    case 'K':
      push_int(static_cast<std::int64_t>(uint_le(1)));
      return true;
    case 'M':
      push_int(static_cast<std::int64_t>(uint_le(2)));
      return true;
    case 0x8a:
    case 0x8b:
      push_long(op);
      return true;
    case 'G': {  // BINFLOAT, big-endian
      std::uint64_t bits = 0;
      const unsigned char* b = take(8);
      for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
      auto p = make(Py::Float);
      std::memcpy(&p->f, &bits, 8);
      stack_.push_back(p);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::run_string(unsigned char op) {
  switch (op) {
    case 'X':
      stack_.push_back(string(uint_le(4), Py::Str));
      return true;
    case 0x8c:
      stack_.push_back(string(uint_le(1), Py::Str));
      return true;
    case 0x8d:
      stack_.push_back(string(uint_le(8), Py::Str));
      return true;
    case 'T':
    case 'B':
      stack_.push_back(string(uint_le(4), op == 'T' ? Py::Str : Py::Bytes));
      return true;
    case 'U':
    case 'C':
      stack_.push_back(string(uint_le(1), op == 'U' ? Py::Str : Py::Bytes));
      return true;
    case 0x8e:
      stack_.push_back(string(uint_le(8), Py::Bytes));
      return true;
    default:
      return false;
  }
}

bool Unpickler::run_build_container(unsigned char op) {
  switch (op) {
    case ')':
      stack_.push_back(make(Py::Tuple));
      return true;
    case ']':
      stack_.push_back(make(Py::List));
      return true;
    case '}':
      stack_.push_back(make(Py::Dict));
      return true;
    case 't':
    case 'l': {
      auto p = make(op == 't' ? Py::Tuple : Py::List);
      p->items = pop_mark();
      stack_.push_back(p);
      return true;
    }
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      auto p = make(Py::Tuple);
      p->items.resize(op - 0x84);
      for (std::size_t k = p->items.size(); k-- > 0;) p->items[k] = pop();
      stack_.push_back(p);
      return true;
    }
    case 'd': {
      auto p = make(Py::Dict);
      set_items(p, pop_mark());
      stack_.push_back(p);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::run_fill_container(unsigned char op) {
  switch (op) {
    case 'a': {
      PyRef v = pop();
      if (top()->kind != Py::List) fail("APPEND to a non-list");
      top()->items.push_back(v);
      return true;
    }
    case 'e': {
      auto items = pop_mark();
      if (top()->kind != Py::List) fail("APPENDS to a non-list");
      top()->items.insert(top()->items.end(), items.begin(), items.end());
      return true;
    }
    case 's': {
      PyRef v = pop(), k = pop();
      set_items(top(), {k, v});
      return true;
    }
    case 'u': {
      auto kv = pop_mark();
      set_items(top(), kv);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::run_memo(unsigned char op) {
  switch (op) {
    case 'q':
      memo_put(uint_le(1));
      return true;
    case 'r':
      memo_put(uint_le(4));
      return true;
    case 0x94:
      memo_put(memo_.size());
      return true;  // MEMOIZE
    case 'h':
      stack_.push_back(memo_get(uint_le(1)));
      return true;
    case 'j':
      stack_.push_back(memo_get(uint_le(4)));
      return true;
    default:
      return false;
  }
}

bool Unpickler::run_object(unsigned char op) {
  switch (op) {
    case 'c': {  // GLOBAL "module\nname\n"
      auto p = make(Py::Global);
      std::string module = line();
      p->s = module + "." + line();
      stack_.push_back(p);
      return true;
    }
    case 0x93: {  // STACK_GLOBAL
      PyRef name = pop(), module = pop();
      auto p = make(Py::Global);
      p->s = module->s + "." + name->s;
      stack_.push_back(p);
      return true;
    }
    case 'Q': {  // BINPERSID
      PyRef pid = pop();
      stack_.push_back(load_(pid));
      return true;
    }
    case 'R': {
      PyRef args = pop(), callable = pop();
      stack_.push_back(reduce(callable, args));
      return true;
    }
    case 0x81: {  // NEWOBJ cls args
      PyRef args = pop(), cls = pop();
      stack_.push_back(reduce(cls, args));
      return true;
    }
    default:
      return false;
  }
}

PyRef Unpickler::run() {
  for (;;) {
    const unsigned char op = *take(1);
    if (op == '.') return pop();  // STOP
    if (run_control(op) || run_scalar(op) || run_string(op) || run_build_container(op) || run_fill_container(op) ||
        run_memo(op) || run_object(op))
      continue;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    fail(std::string("unsupported pickle opcode ") + hex);
  }
}

}  // namespace slimpipe::io::pickle
