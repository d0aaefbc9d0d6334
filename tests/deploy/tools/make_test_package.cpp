// Writes small runtime packages without LibTorch, for the tests of the C API, the Python module and slimpipe-serve:
// the tiny random model of tests/runtime/tiny_model.cpp with a sentiment-flavoured vocabulary, written by the same
// write_tiny_package as the torch-free runtime tests (package.json with the size and SHA-1 of every file;
// docs/runtime.md, "Package"). seq_cls labels: negative, neutral, positive; token_cls tags: O, B-MISC, I-MISC; qa:
// max_seq_length 32, doc_stride 8, max_query_length 6.
// Variants: `damaged`: one byte of weights.bin changed after package.json recorded its SHA-1 (same size), as a file
// damaged in transit (loading it with verification fails, without it loads); `recorded`: package.json records the
// pipeline's decoding options (token_cls: strict = true, scheme = "bio"; qa: n_best_size = 5, max_answer_length = 1).
// Usage: make_test_package OUT_DIR [seq_cls|token_cls|qa] [damaged|recorded]
//        make_test_package --all DIR   (DIR/seq_cls, token_cls, qa; damaged: token_cls damaged; token_cls_strict and
//                                        qa_short: token_cls and qa recorded)
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tiny_model.hpp"

namespace fs = std::filesystem;
namespace testing = slimpipe_runtime::testing;

namespace {

void write_package(const fs::path& dir, const std::string& kind, const std::string& variant) {
  testing::TinyModel m;
  m.head = kind;
  testing::TinyPackage p;
  if (kind == "seq_cls") {
    p.labels = {"negative", "neutral", "positive"};
  } else if (kind == "token_cls") {
    p.labels = {"O", "B-MISC", "I-MISC"};
  } else if (kind != "qa") {
    throw std::invalid_argument("kind '" + kind + "', expected seq_cls, token_cls or qa");
  }
  if (!variant.empty() && variant != "damaged" && variant != "recorded")
    throw std::invalid_argument("variant '" + variant + "', expected damaged or recorded");
  m.num_labels = kind == "qa" ? 2 : static_cast<std::int64_t>(p.labels.size());
  p.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",     "great", "movie", "bad", "plot", "the", "was",
             "dull",  "good",  "film",  "not",   "very",   "story", "##s",   "##ly",  ",",   ".",    "!",   "?"};
  while (p.vocab.size() < static_cast<std::size_t>(m.vocab_size))
    p.vocab.push_back("[unused" + std::to_string(p.vocab.size()) + "]");
  p.max_seq_length = 32;
  p.doc_stride = 8;
  p.max_query_length = 6;
  fs::remove_all(dir);
  nlohmann::json package = testing::write_tiny_package(dir, m, p);
  if (variant == "damaged") {
    std::string weights = testing::read_bytes(dir / "weights.bin");
    weights[weights.size() / 2] = static_cast<char>(weights[weights.size() / 2] ^ 0x5a);
    testing::write_bytes(dir / "weights.bin", weights);
  } else if (variant == "recorded") {
    // package.json lists the other files' SHA-1s, not its own: its keys can be added afterwards.
    if (kind == "token_cls") {
      package["strict"] = true;
      package["scheme"] = "bio";
    } else if (kind == "qa") {
      package["n_best_size"] = 5;
      package["max_answer_length"] = 1;
    }
    testing::write_bytes(dir / "package.json", package.dump(1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string first = argc >= 2 ? argv[1] : "";
  if (argc < 2 || argc > 4 || (first == "--all" && argc != 3)) {
    std::cerr << "usage: make_test_package OUT_DIR [seq_cls|token_cls|qa] [damaged|recorded]\n"
                 "       make_test_package --all DIR\n";
    return 2;
  }
  try {
    if (first == "--all") {
      const fs::path dir = argv[2];
      write_package(dir / "seq_cls", "seq_cls", "");
      write_package(dir / "token_cls", "token_cls", "");
      write_package(dir / "qa", "qa", "");
      write_package(dir / "damaged", "token_cls", "damaged");
      write_package(dir / "token_cls_strict", "token_cls", "recorded");
      write_package(dir / "qa_short", "qa", "recorded");
      std::cout << dir.string() << "\n";
      return 0;
    }
    write_package(argv[1], argc >= 3 ? argv[2] : "seq_cls", argc == 4 ? argv[3] : "");
    std::cout << argv[1] << "\n";
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "make_test_package: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "make_test_package: " << e.what() << "\n";
    return 1;
  }
}
