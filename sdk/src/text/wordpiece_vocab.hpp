// The WordPiece vocabulary: tokens by id, and hash maps from piece text to id that the
// greedy matcher queries with string_views (no allocation per look-up).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slimpipe::text {

class WordPieceVocab {
 public:
  // Later duplicates of a token win, as in Hugging Face's vocab loaders.
  WordPieceVocab(std::vector<std::string> tokens, std::string_view continuing_prefix);

  // One token a line; "\n" or "\r\n" line ends. Throws slimpipe::Error naming the file.
  static std::vector<std::string> read_file(const std::filesystem::path& vocab_txt);
  void write_file(const std::filesystem::path& vocab_txt) const;

  // Id of a whole token, -1 if absent.
  std::int32_t find(std::string_view token) const;
  // Id of a word-initial piece (`piece` as is), -1 if absent.
  std::int32_t find_initial(std::string_view piece) const { return lookup(initial_, piece); }
  // Id of prefix + `piece` (e.g. "##ing" for "ing"), -1 if absent.
  std::int32_t find_continuation(std::string_view piece) const {
    return lookup(continuation_, piece);
  }
  // Longest key in bytes of each map: the matcher never tries a longer substring.
  std::size_t max_initial_bytes() const { return max_initial_bytes_; }
  std::size_t max_continuation_bytes() const { return max_continuation_bytes_; }

  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  using PieceMap = std::unordered_map<std::string_view, std::int32_t>;
  static std::int32_t lookup(const PieceMap& map, std::string_view key) {
    auto it = map.find(key);
    return it == map.end() ? -1 : it->second;
  }

  std::vector<std::string> tokens_;  // never resized after construction: the maps view into it
  PieceMap initial_;
  PieceMap continuation_;
  std::size_t max_initial_bytes_ = 0;
  std::size_t max_continuation_bytes_ = 0;
};

}  // namespace slimpipe::text
