// Content hashes for cache keys and artifact identity (SHA-1, hex encoded).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "slimpipe/export.hpp"

namespace slimpipe {

class SLIMPIPE_API Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  Hasher& update(const void* data, std::size_t size);
  Hasher& update(const std::string& s);
  // Feeds the file's bytes; throws Error naming the file when it cannot be read.
  Hasher& update_file(const std::filesystem::path& path);
  std::string hex();  // finishes the hash

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

SLIMPIPE_API std::string sha1_hex(const std::string& data);

}  // namespace slimpipe
