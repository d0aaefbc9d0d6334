// Loading and saving Hugging Face model directories. Shapes are checked against the config before any copy,
// so a checkpoint that disagrees with its config.json fails with the tensor's name, never a LibTorch assert.
#include "slimpipe/io/checkpoint.hpp"

#include <fstream>
#include <map>

#include <ATen/ATen.h>

#include "slimpipe/io/key_names.hpp"
#include "slimpipe/io/pytorch_bin.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/nn/device.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::io {
namespace fs = std::filesystem;
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Parameters transformers creates fresh when a checkpoint has only the encoder.
bool is_head_key(const std::string& canonical) {
  return starts_with(canonical, "classifier.") || starts_with(canonical, "qa_outputs.") ||
         starts_with(canonical, "pooler.");
}

bool is_float(at::ScalarType t) { return t == at::kFloat || t == at::kHalf || t == at::kBFloat16 || t == at::kDouble; }

}  // namespace

void load_weights(nn::TaskModelImpl& model, const TensorMap& tensors, const std::string& where, bool allow_new_head,
                  std::vector<std::string>* unused_keys, std::vector<std::string>* initialized_keys) {
  // canonical name -> the key as the file spells it
  std::map<std::string, std::string> by_canonical;
  std::string prefix;
  for (const auto& item : tensors) {
    const std::string& key = item.first;
    std::string canonical = canonical_key(key);
    // Report missing tensors with the prefix the file uses, so the name reads like its neighbours.
    if (prefix.empty() && starts_with(key, "bert.")) prefix = "bert.";
    if (prefix.empty() && starts_with(key, "ernie.")) prefix = "ernie.";
    auto [it, fresh] = by_canonical.emplace(canonical, key);
    if (!fresh) throw Error(where + ": tensors '" + it->second + "' and '" + key + "' are the same parameter");
  }
  std::map<std::string, bool> used;
  at::NoGradGuard no_grad;
  for (auto& param : model.named_parameters()) {
    const std::string& name = param.key();
    auto it = by_canonical.find(name);
    if (it == by_canonical.end()) {
      if (allow_new_head && is_head_key(name)) {
        if (initialized_keys) initialized_keys->push_back(checkpoint_key(name, prefix));
        continue;
      }
      throw Error(where + ": missing tensor '" + checkpoint_key(name, prefix) + "'");
    }
    const at::Tensor& src = tensors.at(it->second);
    at::Tensor& dst = param.value();
    if (!is_float(src.scalar_type()))
      throw Error(where + ": tensor '" + it->second + "' has dtype " + std::string(c10::toString(src.scalar_type())) +
                  ", expected a floating-point dtype (F32, F16, BF16 or F64)");
    if (src.sizes() != dst.sizes())
      throw Error(where + ": tensor '" + it->second + "' has shape " + nn::shape_string(src.sizes()) +
                  ", config expects " + nn::shape_string(dst.sizes()));
    dst.copy_(src);
    used[it->second] = true;
  }
  if (unused_keys)
    for (const auto& item : tensors)
      if (!used.count(item.first)) unused_keys->push_back(item.first);
}

TensorMap checkpoint_tensors(const nn::TaskModelImpl& model) {
  const std::string prefix = encoder_prefix(model.config().model_type, model.head() != nn::TaskHead::None);
  TensorMap out;
  for (const auto& param : model.named_parameters())
    out[checkpoint_key(param.key(), prefix)] = param.value().detach().to(at::kCPU).contiguous();
  return out;
}

LoadedModel load_model(const fs::path& dir, const LoadOptions& options) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": model directory not found");
  LoadedModel loaded;
  loaded.config = nn::EncoderConfig::load(dir / "config.json");
  nn::TaskHead head = nn::TaskHead::None;
  if (options.head)
    head = *options.head;
  else if (!loaded.config.architectures.empty())
    head = nn::head_from_architecture(loaded.config.architectures.front());
  const c10::Device device = nn::resolve_device(options.device);

  TensorMap tensors;
  if (fs::exists(dir / "model.safetensors")) {
    loaded.weights_file = dir / "model.safetensors";
    tensors = read_safetensors(loaded.weights_file);
  } else if (fs::exists(dir / "pytorch_model.bin")) {
    loaded.weights_file = dir / "pytorch_model.bin";
    tensors = read_pytorch_bin(loaded.weights_file);
  } else if (fs::exists(dir / "model.safetensors.index.json") || fs::exists(dir / "pytorch_model.bin.index.json")) {
    throw Error(dir.string() + ": sharded checkpoints (*.index.json) are not supported; save the model unsharded");
  } else {
    throw Error(dir.string() + ": no model.safetensors or pytorch_model.bin");
  }
  loaded.model = nn::TaskModel(loaded.config, head);
  load_weights(*loaded.model, tensors, loaded.weights_file.string(), options.allow_new_head, &loaded.unused_keys,
               &loaded.initialized_keys);
  // Ignored keys (position_ids buffers, MLM heads) are expected, not worth reporting as unused.
  std::vector<std::string> unused;
  for (auto& k : loaded.unused_keys)
    if (!is_ignored_key(canonical_key(k))) unused.push_back(k);
  loaded.unused_keys = std::move(unused);
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

namespace {

void copy_tokenizer_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (fs::equivalent(from, to, ec)) return;  // saving over the source directory
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw Error(to.string() + ": cannot copy from " + from.string() + " (" + ec.message() + ")");
}

}  // namespace

void save_model(const fs::path& dir, const nn::TaskModelImpl& model, const SaveOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create directory (" + ec.message() + ")");
  nn::EncoderConfig config = model.config();
  config.architectures = {nn::architecture_name(config.model_type, model.head())};
  config.save(dir / "config.json");
  write_safetensors(dir / "model.safetensors", checkpoint_tensors(model));

  if (options.tokenizer_dir) {
    const fs::path& src = *options.tokenizer_dir;
    if (!fs::exists(src / "vocab.txt")) throw Error((src / "vocab.txt").string() + ": file not found");
    for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"})
      if (fs::exists(src / name)) copy_tokenizer_file(src / name, dir / name);
  }
  if (!options.vocab.empty()) {
    std::ofstream out(dir / "vocab.txt");
    for (const auto& token : options.vocab) out << token << "\n";
    if (!out) throw Error((dir / "vocab.txt").string() + ": write failed");
  }
  if (!options.tokenizer_config.is_null()) {
    std::ofstream out(dir / "tokenizer_config.json");
    out << options.tokenizer_config.dump(2) << "\n";
    if (!out) throw Error((dir / "tokenizer_config.json").string() + ": write failed");
  }
}

}  // namespace slimpipe::io
