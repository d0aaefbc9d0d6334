// Importance scores by one backward per batch. The head mask is a leaf tensor fed through
// EncoderInputs::head_mask; neuron scores use the intermediate/output dense weights of each layer.
#include "slimpipe/pruning/importance.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "slimpipe/error.hpp"

namespace slimpipe::pruning {

HeadImportance::HeadImportance(nn::TaskModelImpl& model, const Task& task) : model_(model), task_(task) {
  const auto& c = model.config();
  const auto options = model.embeddings->word_embeddings->weight.options();
  result_.heads = at::zeros({c.num_hidden_layers, c.num_attention_heads}, options);
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l)
    result_.neurons.push_back(at::zeros({c.intermediate_size_of(l)}, options));
}

double HeadImportance::add(const Batch& batch) {
  const auto& c = model_.config();
  const bool was_training = model_.is_training();
  model_.eval();
  at::Tensor head_mask =
      at::ones({c.num_hidden_layers, c.num_attention_heads}, result_.heads.options()).requires_grad_(true);
  std::vector<at::Tensor> wrt{head_mask};
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
    auto layer = model_.encoder->layer(l);
    wrt.push_back(layer->intermediate->dense->weight);
    wrt.push_back(layer->intermediate->dense->bias);
    wrt.push_back(layer->output->dense->weight);
  }
  Batch masked = batch;
  masked.inputs.head_mask = head_mask;
  at::Tensor loss;
  std::vector<at::Tensor> grads;
  try {
    loss = task_.loss(model_.forward(masked.inputs), masked);
    grads = torch::autograd::grad({loss}, wrt, /*grad_outputs=*/{}, /*retain_graph=*/false, /*create_graph=*/false,
                                  /*allow_unused=*/true);
  } catch (...) {
    model_.train(was_training);
    throw;
  }
  model_.train(was_training);

  at::NoGradGuard no_grad;
  // A pruned layer has fewer heads than H: its absent columns get no gradient and stay 0.
  if (grads[0].defined()) result_.heads += grads[0].abs();
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::size_t k = 1 + 3 * static_cast<std::size_t>(l);
    const at::Tensor& w1 = wrt[k];
    const at::Tensor& b1 = wrt[k + 1];
    const at::Tensor& w2 = wrt[k + 2];
    auto zero_if_unused = [](const at::Tensor& g, const at::Tensor& like) {
      return g.defined() ? g : at::zeros_like(like);
    };
    // LibTorch layouts: W1 [F, D] (sum over D = dim 1), W2 [D, F] (sum over D = dim 0).
    at::Tensor in = (w1 * zero_if_unused(grads[k], w1)).sum(1) + b1 * zero_if_unused(grads[k + 1], b1);
    at::Tensor out = (w2 * zero_if_unused(grads[k + 2], w2)).sum(0);
    result_.neurons[static_cast<std::size_t>(l)] += in.abs() + out.abs();
  }
  ++result_.batches;
  return loss.item<double>();
}

void HeadImportance::add_all(const FeatureSet& data, std::int64_t batch_size, const c10::Device& device) {
  if (batch_size < 1) throw Error("importance: batch size must be positive, got " + std::to_string(batch_size));
  if (data.size() == 0) throw Error("importance: the eval split is empty, nothing to score heads on");
  for (std::int64_t start = 0; start < data.size(); start += batch_size) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = start; i < std::min(data.size(), start + batch_size); ++i) idx.push_back(i);
    add(data.collate(idx).to(device));
  }
}

Importance compute_importance(nn::TaskModelImpl& model, const Task& task, const FeatureSet& data,
                              std::int64_t batch_size, const c10::Device& device) {
  HeadImportance importance(model, task);
  importance.add_all(data, batch_size, device);
  return importance.result();
}

}  // namespace slimpipe::pruning
