// A small pickle machine for torch.save files (pytorch_bin.cpp reads the archives around it). LibTorch 1.13's
// pickle_load rejects what Python's torch.save writes for a state dict (SETITEMS, OrderedDict state), so the
// opcodes a state dict uses are run here. Every malformed input is an Error naming the file and the byte.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "slimpipe/error.hpp"

namespace slimpipe::io::pickle {

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

PyRef make(Py::Kind k);

// torch.FloatStorage and the like as a dtype; anything else is an Error naming `where`.
at::ScalarType storage_dtype(const std::string& global, const std::string& where);

// A tensor's size or stride tuple.
std::vector<std::int64_t> int_tuple(const PyRef& t, const std::string& where);

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
  void push_int(std::int64_t v);
  void push_long(unsigned char op);
  // The opcode families run() dispatches to; each returns false for an opcode outside its family.
  bool run_control(unsigned char op);          // PROTO, FRAME, MARK, POP, BUILD
  bool run_scalar(unsigned char op);           // None, bools, ints, floats
  bool run_string(unsigned char op);           // str and bytes
  bool run_build_container(unsigned char op);  // empty and MARK-built tuples, lists, dicts
  bool run_fill_container(unsigned char op);   // APPEND(S), SETITEM(S)
  bool run_memo(unsigned char op);
  bool run_object(unsigned char op);  // globals, persistent ids, REDUCE, NEWOBJ

  const std::vector<char>& data_;
  std::size_t pos_;
  PersistentLoad load_;
  std::string where_;
  std::vector<PyRef> stack_;
  std::unordered_map<std::size_t, PyRef> memo_;
  std::vector<std::size_t> marks_;
};

}  // namespace slimpipe::io::pickle
