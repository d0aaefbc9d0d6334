// `slimpipe export-runtime HF_DIR OUT`: packages a fine-tuned Hugging Face checkpoint folder as an fp32 runtime
// package (runtime.json, weights.bin, vocab.txt, tokenizer_config.json, package.json; docs/runtime.md), as the
// pipelines' runtime exports are. The work is the SDK's (exporter::export_runtime_package); no LibTorch header here.
#include <boost/program_options.hpp>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/export/runtime_package.hpp"

namespace po = boost::program_options;

namespace slimpipe::cli {

int cmd_export_runtime(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  std::string task, tokenizer;
  std::int64_t max_seq_length = 0, doc_stride = 0, max_query_length = 0, n_best_size = 0, max_answer_length = 0;
  std::string strict, scheme;
  po::options_description d("export-runtime options");
  d.add_options()("help,h", "show this help")("dirs", po::value(&positional)->composing(), "HF_DIR OUT")(
      "task", po::value(&task), "seq_cls, token_cls or qa (default: from config.json's architectures)")(
      "tokenizer", po::value(&tokenizer), "folder with vocab.txt and tokenizer_config.json (default: HF_DIR)")(
      "max-seq-length", po::value(&max_seq_length),
      "longest tokenized input (default: min(tokenizer_config's model_max_length, max_position_embeddings))")(
      "doc-stride", po::value(&doc_stride), "qa: tokens shared by consecutive context windows (default 128)")(
      "max-query-length", po::value(&max_query_length), "qa: questions are cut to this many tokens (default 64)")(
      "n-best-size", po::value(&n_best_size), "qa: start and end candidates per window (default 20)")(
      "max-answer-length", po::value(&max_answer_length), "qa: longest answer in tokens (default 30)")(
      "strict", po::value(&strict), "token_cls: true or false, strict chunking (default false)")(
      "scheme", po::value(&scheme), "token_cls: bio or bioes, the tag scheme strict chunking follows (default bio)");
  po::positional_options_description pos;
  pos.add("dirs", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help") || positional.size() != 2) {
    if (!vm.count("help") && !positional.empty())
      throw UsageError("export-runtime: expected HF_DIR OUT, got " + std::to_string(positional.size()) + " folder" +
                       (positional.size() == 1 ? "" : "s"));
    std::cout << "usage: slimpipe export-runtime HF_DIR OUT [options]\n\nPackages a fine-tuned Hugging Face checkpoint "
                 "(config.json, model.safetensors or pytorch_model.bin, vocab.txt, tokenizer_config.json) as an fp32 "
                 "runtime package in OUT.\n\n"
              << d;
    return vm.count("help") ? 0 : 2;
  }
  exporter::PackageSettings settings;
  if (!tokenizer.empty()) settings.tokenizer_dir = tokenizer;
  auto length = [&](const char* flag, std::int64_t value, std::optional<std::int64_t>& out) {
    if (!vm.count(flag)) return;
    if (value < 1)
      throw UsageError(std::string("export-runtime: --") + flag + " must be >= 1, got " + std::to_string(value));
    out = value;
  };
  length("max-seq-length", max_seq_length, settings.max_seq_length);
  length("doc-stride", doc_stride, settings.doc_stride);
  length("max-query-length", max_query_length, settings.max_query_length);
  length("n-best-size", n_best_size, settings.n_best_size);
  length("max-answer-length", max_answer_length, settings.max_answer_length);
  if (vm.count("strict")) {
    if (strict != "true" && strict != "false")
      throw UsageError("export-runtime: --strict must be true or false, got '" + strict + "'");
    settings.strict = strict == "true";
  }
  if (vm.count("scheme")) {
    if (scheme != "bio" && scheme != "bioes")
      throw UsageError("export-runtime: --scheme must be bio or bioes, got '" + scheme + "'");
    settings.scheme = scheme;
  }
  exporter::export_runtime_package(positional[0], positional[1], task, settings);
  std::cout << "runtime package written to " << positional[1] << "\n";
  return 0;
}

}  // namespace slimpipe::cli
