#include "text_package.hpp"

#include <algorithm>
#include <optional>

#include "slimpipe/error.hpp"

namespace slimpipe_runtime::detail {

namespace text = slimpipe::text;

TextPackage load_text_package(const std::filesystem::path& dir, const Options& options, const std::string& task,
                              const std::string& who) {
  const std::string json = (dir / "package.json").string();
  if (!is_package(dir))
    throw Error(json + ": not found (" + who + " needs a runtime package; bare runtime exports carry no tokenizer " +
                "or labels)");
  Model model = Model::load(dir, options);
  const PackageInfo& p = *model.package();
  if (p.task != task) throw Error(json + ": task " + p.task + ", " + who + " runs " + task + " packages");
  if (!p.has_tokenizer) throw Error(json + ": the package has no tokenizer (exported without a vocab.txt)");
  std::optional<text::WordPieceTokenizer> tokenizer;
  try {
    tokenizer = text::WordPieceTokenizer::from_files(p.vocab_file, p.tokenizer_config_file);
  } catch (const slimpipe::Error& e) {
    throw Error(e.what());
  }
  if (static_cast<std::int64_t>(tokenizer->vocab_size()) > model.info().vocab_size)
    throw Error(p.vocab_file.string() + ": " + std::to_string(tokenizer->vocab_size()) +
                " entries, more than runtime.json's vocab_size " + std::to_string(model.info().vocab_size));
  return TextPackage{std::move(model), std::move(*tokenizer)};
}

const Output& PaddedBatch::run(Model& model, const text::Encoding* const* rows, std::size_t n, std::int32_t pad_id) {
  std::size_t seq = 1;
  for (std::size_t i = 0; i < n; ++i) seq = std::max(seq, rows[i]->ids.size());
  ids_.assign(n * seq, pad_id);
  types_.assign(n * seq, 0);
  mask_.assign(n * seq, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const text::Encoding& e = *rows[i];
    for (std::size_t t = 0; t < e.ids.size(); ++t) {
      ids_[i * seq + t] = e.ids[t];
      types_[i * seq + t] = e.token_type_ids[t];
      mask_[i * seq + t] = 1;
    }
  }
  return model.run(ids_.data(), types_.data(), mask_.data(), static_cast<std::int64_t>(n),
                   static_cast<std::int64_t>(seq));
}

void check_batch_size(std::int64_t batch_size, const std::string& what) {
  if (batch_size < 1) throw Error(what + ": batch_size must be >= 1, got " + std::to_string(batch_size));
}

}  // namespace slimpipe_runtime::detail
