// Loading, saving and indexing the WordPiece vocabulary (vocab.txt, id = line number).
// Pieces are indexed twice: whole tokens, and "##"-continuations under the text after "##".
#include "text/wordpiece_vocab.hpp"

#include <algorithm>
#include <fstream>

#include "slimpipe/data/text_file.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"

namespace slimpipe::text {

WordPieceVocab::WordPieceVocab(std::vector<std::string> tokens, std::string_view continuing_prefix)
    : tokens_(std::move(tokens)), initial_(tokens_.size()) {
  for (std::size_t id = 0; id < tokens_.size(); ++id) {
    const std::string_view token = tokens_[id];
    initial_.insert(token, static_cast<std::int32_t>(id));
    max_initial_bytes_ = std::max(max_initial_bytes_, token.size());
    if (!continuing_prefix.empty() && token.size() > continuing_prefix.size() &&
        token.substr(0, continuing_prefix.size()) == continuing_prefix) {
      const std::string_view rest = token.substr(continuing_prefix.size());
      continuation_.insert(rest, static_cast<std::int32_t>(id));
      max_continuation_bytes_ = std::max(max_continuation_bytes_, rest.size());
    }
  }
}

std::vector<std::string> WordPieceVocab::read_file(const std::filesystem::path& vocab_txt) {
  std::error_code ec;
  if (std::filesystem::is_directory(vocab_txt, ec))
    throw Error(vocab_txt.string() + ": is a directory, expected a file");
  std::ifstream in(vocab_txt, std::ios::binary);
  if (!in) throw Error(vocab_txt.string() + ": cannot open the vocabulary file");
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // A token that is not UTF-8 could never match tokenized text: the file is damaged or not a vocabulary.
    data::check_text_bytes(line, vocab_txt.string(), tokens.size() + 1);
    tokens.push_back(line);
  }
  if (in.bad()) throw Error(vocab_txt.string() + ": read error");
  if (tokens.empty()) throw Error(vocab_txt.string() + ": the vocabulary is empty");
  return tokens;
}

std::int32_t WordPieceVocab::find(std::string_view token) const { return initial_.find(token); }

void WordPieceVocab::write_file(const std::filesystem::path& vocab_txt) const {
  std::string text;
  for (const std::string& token : tokens_) (text += token) += '\n';
  write_file_atomic(vocab_txt, text);
}

}  // namespace slimpipe::text
