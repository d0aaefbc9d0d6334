// Writes a small runtime package without LibTorch, for the tests of the C API, the Python module and slimpipe-serve:
// the tiny random model of tests/runtime/tiny_model.cpp with a sentiment-flavoured vocabulary, written by the same
// write_tiny_package as the torch-free runtime tests (package.json with the size and SHA-1 of every file;
// docs/runtime.md, "Package"). seq_cls labels: negative, neutral, positive; token_cls tags: O, B-MISC, I-MISC; qa:
// max_seq_length 32, doc_stride 8, max_query_length 6.
// With `damaged`, one byte of weights.bin is changed after package.json recorded its SHA-1 (same size), as a file
// damaged in transit: loading it with verification fails, without verification it loads.
// Usage: make_test_package OUT_DIR [seq_cls|token_cls|qa] [damaged]
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tiny_model.hpp"

namespace fs = std::filesystem;
namespace testing = slimpipe_runtime::testing;

int main(int argc, char** argv) {
  const std::string damaged_flag = argc == 4 ? argv[3] : "";
  if (argc < 2 || argc > 4 || (argc == 4 && damaged_flag != "damaged")) {
    std::cerr << "usage: make_test_package OUT_DIR [seq_cls|token_cls|qa] [damaged]\n";
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    testing::TinyModel m;
    m.head = argc >= 3 ? argv[2] : "seq_cls";
    testing::TinyPackage p;
    if (m.head == "seq_cls") {
      p.labels = {"negative", "neutral", "positive"};
    } else if (m.head == "token_cls") {
      p.labels = {"O", "B-MISC", "I-MISC"};
    } else if (m.head != "qa") {
      std::cerr << "make_test_package: kind '" << m.head << "', expected seq_cls, token_cls or qa\n";
      return 2;
    }
    m.num_labels = m.head == "qa" ? 2 : static_cast<std::int64_t>(p.labels.size());
    p.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",    "great", "movie", "bad", "plot", "the", "was",
               "dull",  "good",  "film",  "not",   "very",   "story", "##s",  "##ly",  ",",   ".",    "!",   "?"};
    while (p.vocab.size() < static_cast<std::size_t>(m.vocab_size))
      p.vocab.push_back("[unused" + std::to_string(p.vocab.size()) + "]");
    p.max_seq_length = 32;
    p.doc_stride = 8;
    p.max_query_length = 6;
    fs::remove_all(dir);
    testing::write_tiny_package(dir, m, p);
    if (!damaged_flag.empty()) {
      std::string weights = testing::read_bytes(dir / "weights.bin");
      weights[weights.size() / 2] = static_cast<char>(weights[weights.size() / 2] ^ 0x5a);
      testing::write_bytes(dir / "weights.bin", weights);
    }
    std::cout << dir.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "make_test_package: " << e.what() << "\n";
    return 1;
  }
}
