// The vocabulary covering every synthetic generator, for a generated vocab.txt.
// Whole lower-case words only, so a WordPiece tokenizer never splits them into pieces.
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::data {

std::vector<std::string> unique_words(const std::vector<std::string>& phrases) {
  std::vector<std::string> words;
  std::unordered_set<std::string> seen;
  for (const auto& phrase : phrases) {
    std::istringstream in(phrase);
    std::string w;
    while (in >> w)
      if (seen.insert(w).second) words.push_back(w);
  }
  return words;
}

std::vector<std::string> synthetic_vocabulary() {
  std::vector<std::string> phrases = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (auto words : {synthetic_seq_cls_words(), synthetic_token_cls_words(), synthetic_qa_words()})
    phrases.insert(phrases.end(), words.begin(), words.end());
  return unique_words(phrases);
}

void write_synthetic_vocab(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot write the vocabulary file");
  for (const auto& w : synthetic_vocabulary()) out << w << '\n';
  if (!out.flush()) throw Error(path + ": cannot write the vocabulary file");
}

}  // namespace slimpipe::data
