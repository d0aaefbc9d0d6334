// Writes a small runtime package without LibTorch, for the tests of the C API, the Python module and slimpipe-serve:
// the tiny random model of tests/runtime/tiny_model.cpp, a sentiment-flavoured vocabulary, package.json with the
// size and SHA-1 of every file (docs/runtime.md, "Package").
// Usage: make_test_package OUT_DIR [seq_cls|token_cls|qa]
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "slimpipe/hash.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "tiny_model.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: make_test_package OUT_DIR [seq_cls|token_cls|qa]\n";
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    slimpipe_runtime::testing::TinyModel m;
    m.head = argc == 3 ? argv[2] : "seq_cls";
    if (m.head == "qa") m.num_labels = 2;
    fs::remove_all(dir);
    slimpipe_runtime::testing::write_tiny_model(dir, m);
    std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",     "great", "movie",
                                      "bad",   "plot",  "the",   "was",   "dull",   "good", "film",  "not",
                                      "very",  "story", "##s",   "##ly",  ",",      ".",    "!",     "?"};
    while (vocab.size() < static_cast<std::size_t>(m.vocab_size)) vocab.push_back("[unused" + std::to_string(vocab.size()) + "]");
    slimpipe::text::WordPieceTokenizer(vocab).save(dir);
    Json files = Json::array();
    for (const char* f : {"runtime.json", "weights.bin", "vocab.txt", "tokenizer_config.json"}) {
      slimpipe::Hasher hasher;
      hasher.update_file(dir / f);
      files.push_back({{"path", f}, {"bytes", fs::file_size(dir / f)}, {"sha1", hasher.hex()}});
    }
    const std::vector<std::string> names = m.head == "seq_cls"     ? std::vector<std::string>{"negative", "neutral", "positive"}
                                           : m.head == "token_cls" ? std::vector<std::string>{"O", "B-MISC", "I-MISC"}
                                                                   : std::vector<std::string>{};
    Json package = {{"format", "slimpipe-package"}, {"version", 1},        {"task", m.head},
                    {"labels", names},              {"max_seq_length", 32}, {"files", files},
                    {"tokenizer", {{"vocab", "vocab.txt"}, {"config", "tokenizer_config.json"}}}};
    if (m.head == "qa") {
      package["doc_stride"] = 8;
      package["max_query_length"] = 6;
    }
    slimpipe_runtime::testing::write_bytes(dir / "package.json", package.dump(1));
    std::cout << dir.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "make_test_package: " << e.what() << "\n";
    return 1;
  }
}
