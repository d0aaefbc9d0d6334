// SHA-1 through Boost's implementation; used for cache keys, not for security.
#include "slimpipe/hash.hpp"

#include <boost/uuid/detail/sha1.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "slimpipe/error.hpp"

namespace slimpipe {

struct Hasher::Impl {
  boost::uuids::detail::sha1 sha;
};

Hasher::Hasher() : impl_(std::make_unique<Impl>()) {}
Hasher::~Hasher() = default;

Hasher& Hasher::update(const void* data, std::size_t size) {
  impl_->sha.process_bytes(data, size);
  return *this;
}

Hasher& Hasher::update(const std::string& s) {
  // Length-prefixed, so that ("ab","c") and ("a","bc") differ.
  std::uint64_t n = s.size();
  update(&n, sizeof n);
  return update(s.data(), s.size());
}

Hasher& Hasher::update_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open file for hashing");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path.string() + ": read error while hashing");
  return *this;
}

std::string Hasher::hex() {
  boost::uuids::detail::sha1::digest_type digest;
  impl_->sha.get_digest(digest);
  char out[41];
  for (int i = 0; i < 5; ++i) std::snprintf(out + i * 8, 9, "%08x", static_cast<unsigned>(digest[i]));
  return std::string(out, 40);
}

std::string sha1_hex(const std::string& data) {
  Hasher h;
  h.update(data.data(), data.size());
  return h.hex();
}

}  // namespace slimpipe
