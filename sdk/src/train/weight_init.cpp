// BERT weight initialisation: walks the modules in registration order so the draws (and so the
// weights for a given torch::manual_seed) do not depend on anything but the architecture.
#include "slimpipe/train/weight_init.hpp"

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

namespace slimpipe::train {

void init_bert_weights(nn::TaskModelImpl& model, double std) {
  torch::NoGradGuard no_grad;
  const std::int64_t pad = model.config().pad_token_id;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    const auto& m = item.value();
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(m)) {
      linear->weight.normal_(0.0, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto emb = std::dynamic_pointer_cast<torch::nn::EmbeddingImpl>(m)) {
      emb->weight.normal_(0.0, std);
      if (item.key().find("word_embeddings") != std::string::npos && pad >= 0 && pad < emb->weight.size(0))
        emb->weight[pad].zero_();
    } else if (auto norm = std::dynamic_pointer_cast<torch::nn::LayerNormImpl>(m)) {
      if (norm->weight.defined()) norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
}

}  // namespace slimpipe::train
