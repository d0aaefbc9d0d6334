// Parameter and FLOP counting from the config alone (FLOPs) or the module (parameters), so the
// figures in a width's manifest need no forward pass.
#include "slimpipe/pruning/model_cost.hpp"

namespace slimpipe::pruning {

std::int64_t parameter_count(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

double encoder_flops_per_token(const nn::EncoderConfig& c, std::int64_t seq_len) {
  const auto d = static_cast<double>(c.hidden_size), s = static_cast<double>(seq_len);
  double flops = 0;
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const double a = static_cast<double>(c.num_heads(l) * c.head_dim());
    const auto f = static_cast<double>(c.intermediate_size_of(l));
    flops += 3 * 2 * d * a + 2 * 2 * s * a + 2 * a * d + 2 * 2 * d * f;
  }
  return flops;
}

}  // namespace slimpipe::pruning
