// Key renaming between checkpoints and slimpipe modules; string work only, no LibTorch.
// gamma/beta handling follows transformers' _fix_key for checkpoints ported from TensorFlow.
#include "slimpipe/io/key_names.hpp"

namespace slimpipe::io {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

}  // namespace

std::string canonical_key(const std::string& key) {
  std::string k = key;
  for (const char* prefix : {"bert.", "ernie."})
    if (starts_with(k, prefix)) {
      k = k.substr(std::string(prefix).size());
      break;
    }
  if (ends_with(k, ".gamma")) k = k.substr(0, k.size() - 6) + ".weight";
  if (ends_with(k, ".beta")) k = k.substr(0, k.size() - 5) + ".bias";
  return k;
}

std::string encoder_prefix(const std::string& model_type, bool task_model) {
  if (!task_model) return "";
  return model_type == "ernie" ? "ernie." : "bert.";
}

std::string checkpoint_key(const std::string& canonical, const std::string& prefix) {
  for (const char* part : {"embeddings.", "encoder.", "pooler."})
    if (starts_with(canonical, part)) return prefix + canonical;
  return canonical;
}

bool is_ignored_key(const std::string& canonical) {
  return canonical == "embeddings.position_ids" || canonical == "embeddings.token_type_ids" ||
         starts_with(canonical, "cls.");
}

}  // namespace slimpipe::io
