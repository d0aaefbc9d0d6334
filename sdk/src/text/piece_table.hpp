// Open-addressing hash table from word-piece text to id, built once per vocabulary. Keys live
// in one contiguous pool and slots hold the full hash, so a miss rarely touches key bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace slimpipe::text {

class PieceTable {
 public:
  explicit PieceTable(std::size_t expected = 0) {
    std::size_t capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    slots_.assign(capacity, Slot{});
  }

  // A later insert of the same key replaces its id (later vocab lines win, as in HF).
  void insert(std::string_view key, std::int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::uint32_t h = hash(key);
    std::size_t i = h & (slots_.size() - 1);
    for (; slots_[i].id >= 0; i = (i + 1) & (slots_.size() - 1)) {
      if (matches(slots_[i], h, key)) {
        slots_[i].id = id;
        return;
      }
    }
    slots_[i] = Slot{h, id, static_cast<std::uint32_t>(pool_.size()), static_cast<std::uint32_t>(key.size())};
    pool_.append(key);
    ++size_;
  }

  std::int32_t find(std::string_view key) const {
    const std::uint32_t h = hash(key);
    for (std::size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (matches(s, h, key)) return s.id;
    }
  }

 private:
  struct Slot {
    std::uint32_t hash = 0;
    std::int32_t id = -1;  // -1: empty
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  // FNV-1a: pieces are short (a few bytes), where it is as fast as anything fancier.
  static std::uint32_t hash(std::string_view key) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : key) h = (h ^ c) * 16777619u;
    return h;
  }

  bool matches(const Slot& s, std::uint32_t h, std::string_view key) const {
    return s.hash == h && s.length == key.size() && std::memcmp(pool_.data() + s.offset, key.data(), key.size()) == 0;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      std::size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].id >= 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string pool_;
  std::size_t size_ = 0;
};

}  // namespace slimpipe::text
