// Loading and saving Hugging Face model directories. Shapes are checked against the config before any copy,
// so a checkpoint that disagrees with its config.json fails with the tensor's name, never a LibTorch assert.
#include "slimpipe/io/checkpoint.hpp"

#include <ATen/ATen.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <map>

#include "slimpipe/io/checked_file.hpp"
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

// "encoder.layer.12.output.dense.weight" -> 12; -1 for keys outside the layer stack.
std::int64_t layer_index(const std::string& canonical) {
  const std::string stem = "encoder.layer.";
  if (!starts_with(canonical, stem)) return -1;
  std::int64_t index = 0;
  std::size_t i = stem.size();
  if (i >= canonical.size() || !std::isdigit(static_cast<unsigned char>(canonical[i]))) return -1;
  for (; i < canonical.size() && std::isdigit(static_cast<unsigned char>(canonical[i])); ++i) {
    index = index * 10 + (canonical[i] - '0');
    if (index > (std::int64_t{1} << 40)) return -1;
  }
  return index;
}

// A checkpoint tensor the model has no parameter for. Transformers' checkpoints legitimately carry some:
// buffers (position_ids), the MLM / NSP heads of a pre-trained checkpoint (cls.*), the pooler of a base
// model loaded under a head that does not use it, a task head when only the encoder is wanted. Anything
// else means config.json describes another model than the file holds (a layer more than num_hidden_layers:
// dropped silently, that layer would cost accuracy without a word). Returns "" when the tensor may be
// dropped, else the end of the error message.
std::string unused_tensor_problem(const std::string& canonical, const nn::TaskModelImpl& model) {
  const nn::EncoderConfig& c = model.config();
  if (is_ignored_key(canonical)) return "";
  if (starts_with(canonical, "pooler.") && !model.pooler) return "";
  if (starts_with(canonical, "classifier.") || starts_with(canonical, "qa_outputs.")) {
    if (model.head() == nn::TaskHead::None) return "";
    return "is not used by a " + std::string(nn::to_string(model.head())) + " model";
  }
  const std::int64_t layer = layer_index(canonical);
  if (layer >= c.num_hidden_layers)
    return "is not used by config.json (num_hidden_layers = " + std::to_string(c.num_hidden_layers) + ")";
  if (starts_with(canonical, "embeddings.task_type_embeddings.") && !c.use_task_id)
    return "is not used by config.json (use_task_id = false)";
  return "is not used by config.json";
}

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
  for (const auto& item : tensors) {
    if (used.count(item.first)) continue;
    const std::string problem = unused_tensor_problem(canonical_key(item.first), model);
    if (!problem.empty()) throw Error(where + ": tensor " + item.first + " " + problem);
    if (unused_keys) unused_keys->push_back(item.first);
  }
}

std::int64_t count_vocab_entries(const fs::path& vocab_txt) {
  std::ifstream in(vocab_txt, std::ios::binary);
  if (!in) throw Error(vocab_txt.string() + ": cannot open the vocabulary file");
  // As the tokenizer counts: one entry a line, a last line without "\n" included.
  std::int64_t lines = 0;
  char last = '\n';
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) lines += buffer[i] == '\n';
    last = buffer[n - 1];
  }
  if (in.bad()) throw Error(vocab_txt.string() + ": read error");
  return lines + (last != '\n');
}

void check_vocab_fits(const fs::path& dir, const nn::EncoderConfig& config) {
  const fs::path vocab_txt = dir / "vocab.txt";
  std::error_code ec;
  if (!fs::exists(vocab_txt, ec)) return;
  const std::int64_t entries = count_vocab_entries(vocab_txt);
  if (entries > config.vocab_size)
    throw Error(vocab_txt.string() + ": " + std::to_string(entries) + " entries, more than config.json's vocab_size " +
                std::to_string(config.vocab_size) + " (token ids from " + std::to_string(config.vocab_size) +
                " up would have no embedding)");
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
  check_vocab_fits(dir, loaded.config);
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

// Read whole and written checked (fs::copy_file neither fsyncs nor names the file it failed to write).
void copy_tokenizer_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (fs::equivalent(from, to, ec)) return;  // saving over the source directory
  std::ifstream in(from, std::ios::binary);
  if (!in) throw Error(from.string() + ": cannot open for reading");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(from.string() + ": read failed");
  write_file_atomic(to, bytes);
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
    std::string text;
    for (const auto& token : options.vocab) (text += token) += '\n';
    write_file_atomic(dir / "vocab.txt", text);
  }
  if (!options.tokenizer_config.is_null())
    write_file_atomic(dir / "tokenizer_config.json", options.tokenizer_config.dump(2) + "\n");
}

}  // namespace slimpipe::io
