// Building the model a fine-tuning run starts from. Labels always come from the task: it defines
// what label id i means, whatever id2label the input checkpoint carried.
#include "model_source.hpp"

#include "slimpipe/io/pytorch_bin.hpp"
#include "slimpipe/io/safetensors.hpp"
#include "slimpipe/train/weight_init.hpp"

namespace slimpipe::finetune {

namespace fs = std::filesystem;

namespace {

void set_task_head(nn::EncoderConfig& config, const HeadSpec& head) {
  config.num_labels = head.num_labels;
  config.id2label.clear();
  config.label2id.clear();
  for (std::size_t i = 0; i < head.labels.size(); ++i) {
    config.id2label[static_cast<std::int64_t>(i)] = head.labels[i];
    config.label2id[head.labels[i]] = static_cast<std::int64_t>(i);
  }
  config.architectures = {nn::architecture_name(config.model_type, head.head)};
}

bool is_head_key(const std::string& key) {
  return key.rfind("classifier.", 0) == 0 || key.rfind("qa_outputs.", 0) == 0;
}

}  // namespace

StartingModel load_pretrained(const fs::path& dir, const HeadSpec& head) {
  const fs::path config_file = dir / "config.json";
  if (!fs::exists(config_file))
    throw Error(dir.string() +
                ": no config.json (expected an HF model folder: config.json + model.safetensors or "
                "pytorch_model.bin + vocab.txt)");
  nn::EncoderConfig config = nn::EncoderConfig::load(config_file);
  io::check_vocab_fits(dir, config);  // more tokens than embedding rows: an Error naming vocab.txt
  const nn::TaskHead saved_head =
      config.architectures.empty() ? nn::TaskHead::None : nn::head_from_architecture(config.architectures[0]);
  const bool same_head = saved_head == head.head && config.num_labels == head.num_labels;
  set_task_head(config, head);

  fs::path weights = dir / "model.safetensors";
  if (!fs::exists(weights)) weights = dir / "pytorch_model.bin";
  if (!fs::exists(weights)) throw Error(dir.string() + ": no model.safetensors or pytorch_model.bin");
  io::TensorMap tensors =
      weights.extension() == ".safetensors" ? io::read_safetensors(weights) : io::read_pytorch_bin(weights);
  // A head of another kind or size cannot be loaded; it is trained from a fresh initialisation.
  if (!same_head)
    for (auto it = tensors.begin(); it != tensors.end();)
      it = is_head_key(it->first) ? tensors.erase(it) : std::next(it);

  StartingModel start;
  start.model = nn::TaskModel(config, head.head);
  train::init_bert_weights(*start.model, config.extra.value("initializer_range", 0.02));
  std::vector<std::string> unused, initialized;
  io::load_weights(*start.model, tensors, weights.string(), /*allow_new_head=*/true, &unused, &initialized);
  start.tokenizer = text::WordPieceTokenizer::from_directory(dir);
  start.save.tokenizer_dir = dir;
  start.description = "loaded " + dir.string() + " (" + std::to_string(config.num_hidden_layers) + " layers, hidden " +
                      std::to_string(config.hidden_size) + ")";
  if (!initialized.empty())
    start.description += "; " + std::to_string(initialized.size()) + " head tensors newly initialised";
  return start;
}

StartingModel create_from_scratch(const EncoderSize& size, const fs::path& vocab_txt, Task& task,
                                  const HeadSpec& head) {
  StartingModel start;
  if (!vocab_txt.empty()) {
    start.tokenizer = text::WordPieceTokenizer::from_files(vocab_txt);
  } else {
    std::vector<std::string> words = task.vocabulary();
    if (words.empty())
      throw Error(
          "finetune: from_scratch needs a vocabulary: the task provides none, so set vocab = \"path/to/vocab.txt\"");
    start.tokenizer = text::WordPieceTokenizer(std::move(words));
  }
  const auto& tok = *start.tokenizer;
  nn::EncoderConfig config;
  config.vocab_size = static_cast<std::int64_t>(tok.vocab_size());
  config.hidden_size = size.hidden_size;
  config.num_hidden_layers = size.num_hidden_layers;
  config.num_attention_heads = size.num_attention_heads;
  config.intermediate_size = size.intermediate_size;
  config.max_position_embeddings = size.max_position_embeddings;
  config.hidden_dropout_prob = size.hidden_dropout_prob;
  config.attention_probs_dropout_prob = size.attention_probs_dropout_prob;
  config.pad_token_id = tok.pad_id();
  config.extra["initializer_range"] = 0.02;
  set_task_head(config, head);
  config.validate("finetune parameters");

  start.model = nn::TaskModel(config, head.head);
  train::init_bert_weights(*start.model, 0.02);
  start.save.vocab = tok.vocab();
  start.save.tokenizer_config = tok.options().to_json();
  start.description = "new encoder: " + std::to_string(size.num_hidden_layers) + " layers, hidden " +
                      std::to_string(size.hidden_size) + ", " + std::to_string(size.num_attention_heads) +
                      " heads, FFN " + std::to_string(size.intermediate_size) + ", vocab " +
                      std::to_string(tok.vocab_size());
  return start;
}

}  // namespace slimpipe::finetune
