// The WordPiece vocabulary: tokens by id, and hash tables from piece text to id that the
// greedy matcher queries with string_views (no allocation per look-up).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "text/piece_table.hpp"

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
  std::int32_t find_initial(std::string_view piece) const { return initial_.find(piece); }
  // Id of prefix + `piece` (e.g. "##ing" for "ing"), -1 if absent.
  std::int32_t find_continuation(std::string_view piece) const { return continuation_.find(piece); }
  // Longest key in bytes of each map: the matcher never tries a longer substring.
  std::size_t max_initial_bytes() const { return max_initial_bytes_; }
  std::size_t max_continuation_bytes() const { return max_continuation_bytes_; }

  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  std::vector<std::string> tokens_;
  PieceTable initial_;       // every token as written
  PieceTable continuation_;  // "##x" tokens under "x"

  std::size_t max_initial_bytes_ = 0;
  std::size_t max_continuation_bytes_ = 0;
};

}  // namespace slimpipe::text
