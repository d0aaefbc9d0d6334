// Throughput of the BERT WordPiece tokenizer on one core: encodes English sentences (SST-2
// train when ../shared/data is present, generated text otherwise) and prints MB/s.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
using slimpipe::text::EncodeOptions;
using slimpipe::text::WordPieceTokenizer;

std::vector<std::string> read_sst2(const fs::path& tsv) {
  std::vector<std::string> out;
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line.substr(0, line.rfind('\t')));
  return out;
}

// Sentences of pseudo-English words, mixed case and punctuation, when no data set is at hand.
std::vector<std::string> generated_sentences(std::size_t n) {
  const char* words[] = {
      "The",       "movie",      "was",  "surprisingly", "good",  "and",      "the",  "acting", "never",
      "felt",      "forced",     ",",    "although",     "its",   "second",   "half", "drags",  ".",
      "unaffable", "characters", "make", "it",           "worth", "watching", "!"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(words) / sizeof(words[0]) - 1), len(5, 40);
  std::vector<std::string> out(n);
  for (std::string& s : out)
    for (std::size_t i = 0, k = len(rng); i < k; ++i) (s += words[pick(rng)]) += ' ';
  return out;
}

// A vocabulary from the benchmark text itself (characters, ##characters and whole words), so
// the program runs without the shared data.
std::vector<std::string> vocab_from(const std::vector<std::string>& sentences) {
  std::vector<std::string> vocab{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (char c = 33; c < 127; ++c) {
    vocab.push_back(std::string(1, c));
    vocab.push_back("##" + std::string(1, c));
  }
  for (const std::string& s : sentences) {
    std::size_t pos = 0;
    while (pos < s.size() && vocab.size() < 30000) {
      const std::size_t end = std::min(s.find(' ', pos), s.size());
      std::string w = s.substr(pos, end - pos);
      for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (w.size() > 1 && w.size() < 8) vocab.push_back(w);
      pos = end + 1;
    }
  }
  return vocab;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  fs::path data = SLIMPIPE_SHARED_DATA_DIR;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::stod(argv[i + 1]);
    else if (std::strcmp(argv[i], "--data") == 0)
      data = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: tokenizer_bench [--seconds S] [--data DIR]\n");
      return 2;
    }
  }
  try {
    const fs::path tsv = data / "sst2" / "train.tsv";
    const fs::path vocab = data / "vocab" / "bert-base-uncased" / "vocab.txt";
    const bool real = fs::exists(tsv) && fs::exists(vocab);
    const std::vector<std::string> sentences = real ? read_sst2(tsv) : generated_sentences(60000);
    const WordPieceTokenizer tok =
        real ? WordPieceTokenizer::from_files(vocab) : WordPieceTokenizer(vocab_from(sentences));
    std::size_t bytes_per_pass = 0;
    for (const std::string& s : sentences) bytes_per_pass += s.size();

    const EncodeOptions options;  // [CLS] text [SEP], ids, masks and offsets, no truncation
    std::size_t passes = 0, tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds || passes == 0) {
      for (const std::string& s : sentences) tokens += tok.encode(s, options).size();
      ++passes;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const double mb = static_cast<double>(bytes_per_pass * passes) / 1e6;
    std::printf("%-28s %-12s %10s %10s %12s %10s\n", "text", "vocab", "sentences", "MB", "tokens/s", "MB/s");
    std::printf("%-28s %-12s %10zu %10.1f %12.0f %10.2f\n", real ? "sst2/train.tsv" : "generated",
                real ? "bert-base-uncased" : "generated", sentences.size() * passes, mb,
                static_cast<double>(tokens) / elapsed, mb / elapsed);
  } catch (const slimpipe::Error& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
