// The smallest embedding of slimpipe_runtime: load an exported model, run one batch of token ids, print the
// logits. Usage: slimpipe_runtime_example MODEL_DIR [threads] [token ids...]
// (no ids: a [CLS] x y [SEP]-shaped sequence of ids 101, 2000, 2001, 102).
#include <cstdlib>
#include <iostream>
#include <vector>

#include "slimpipe_runtime/runtime.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR [threads] [token ids...]\n";
    return 2;
  }
  try {
    slimpipe_runtime::set_threads(argc > 2 ? std::atoi(argv[2]) : 1);
    auto model = slimpipe_runtime::Model::load(argv[1]);
    std::vector<std::int64_t> ids;
    for (int i = 3; i < argc; ++i) ids.push_back(std::atoll(argv[i]));
    if (ids.empty()) ids = {101, 2000, 2001, 102};
    for (auto& id : ids) id %= model.info().vocab_size;
    const std::int64_t seq = static_cast<std::int64_t>(ids.size());
    const std::vector<std::int64_t> types(ids.size(), 0), mask(ids.size(), 1);
    const auto& out = model.run(ids, types, mask, 1, seq);
    const auto& info = model.info();
    std::cout << info.precision << " " << slimpipe_runtime::to_string(info.head) << " model, " << info.num_layers
              << " layers, " << info.hidden_size << " hidden\n";
    if (out.start_logits) {
      for (std::int64_t t = 0; t < seq; ++t)
        std::cout << "token " << t << ": start " << out.start_logits[t] << " end " << out.end_logits[t] << "\n";
    } else {
      for (std::int64_t r = 0; r < out.seq; ++r) {
        std::cout << (info.head == slimpipe_runtime::Head::SequenceClassification
                          ? "logits:"
                          : ("token " + std::to_string(r) + ":"));
        for (std::int64_t l = 0; l < out.num_labels; ++l) std::cout << " " << out.logits[r * out.num_labels + l];
        std::cout << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "slimpipe_runtime_example: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
