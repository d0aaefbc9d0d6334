// Data-parallel training runs (data_parallel.hpp): shards, loss weights, the per-step collective and rank 0's
// evaluations on every rank.
#include "slimpipe/train/data_parallel.hpp"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <cmath>

#include "slimpipe/error.hpp"

namespace slimpipe::train {

bool loss_per_token(const Batch& batch) {
  const auto it = batch.targets.find("labels");
  return it != batch.targets.end() && it->second.defined() && it->second.dim() == 2;
}

double loss_units(const Batch& batch) {
  if (!loss_per_token(batch)) return static_cast<double>(batch.size());
  return batch.targets.at("labels").ne(-100).sum().item<double>();
}

std::unique_ptr<DataParallel> DataParallel::from_environment(const std::string& name) {
  const DistributedEnv env = DistributedEnv::from_environment();
  if (!env.enabled()) return nullptr;
  return std::make_unique<DataParallel>(env, name);
}

DataParallel::DataParallel(const DistributedEnv& env, const std::string& name)
    : group_(env, std::chrono::seconds(env.timeout_s), name) {}

void DataParallel::broadcast_state(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  for (const auto& p : module.parameters(true)) tensors.push_back(p);
  for (const auto& b : module.buffers(true)) tensors.push_back(b);
  group_.broadcast(tensors, 0);
}

Shard DataParallel::shard(const std::vector<std::int64_t>& global) const {
  if (global.empty()) throw Error("data parallel: an empty global batch");
  const auto n = static_cast<std::int64_t>(global.size());
  const std::int64_t w = world_size(), r = rank();
  const std::int64_t from = n * r / w, to = n * (r + 1) / w;
  Shard s;
  if (to == from) {
    s.indices = {global.front()};
    s.weight = 0;
    return s;
  }
  s.indices.assign(global.begin() + from, global.begin() + to);
  s.weight = static_cast<double>((to - from) * w) / static_cast<double>(n);
  return s;
}

double DataParallel::unit_weight(double local) {
  at::Tensor mean = at::full({1}, local, at::kDouble);
  group_.average({mean});
  const double m = mean.item<double>();
  return m > 0 ? local / m : 0.0;
}

double DataParallel::loss_weight(const Shard& shard, const Batch& batch) {
  if (!loss_per_token(batch)) return shard.weight;
  return unit_weight(shard.contributes() ? loss_units(batch) : 0.0);
}

std::vector<double> DataParallel::average_step(const std::vector<at::Tensor>& parameters,
                                               const std::vector<at::Tensor>& values, bool contributes,
                                               bool cancelled) {
  std::vector<at::Tensor> tensors;
  for (const auto& p : parameters)
    if (p.grad().defined()) {
      if (!contributes) p.grad().zero_();
      tensors.push_back(p.grad());
    }
  // The values and the stop flag travel in the gradients' buffer (same dtype: one allreduce).
  const auto type = tensors.empty() ? at::kFloat : tensors.front().scalar_type();
  at::Tensor extra = at::zeros({static_cast<std::int64_t>(values.size()) + 1}, at::TensorOptions().dtype(type));
  for (std::size_t i = 0; i < values.size() && contributes; ++i)
    extra[static_cast<std::int64_t>(i)] = values[i].detach().to(at::kCPU).to(type).reshape({});
  extra[static_cast<std::int64_t>(values.size())] = cancelled ? 1.0 : 0.0;
  tensors.push_back(extra);
  group_.average(tensors);
  const at::Tensor averaged = extra.to(at::kDouble);
  std::vector<double> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = averaged[static_cast<std::int64_t>(i)].item<double>();
  stop_ = averaged[static_cast<std::int64_t>(values.size())].item<double>() > 0;
  return out;
}

std::vector<Metrics> DataParallel::metrics_from_main(const std::function<std::vector<Metrics>()>& compute) {
  Json sent = Json::array();
  if (is_main())
    for (const Metrics& m : compute()) sent.push_back(Json{{"primary", m.primary}, {"value", m.value}, {"all", m.all}});
  const Json got = Json::parse(group_.broadcast_text(is_main() ? sent.dump() : std::string()));
  std::vector<Metrics> out;
  for (const auto& j : got) {
    Metrics m;
    m.primary = j.at("primary").get<std::string>();
    m.value = j.at("value").is_number() ? j.at("value").get<double>() : std::nan("");  // JSON writes NaN as null
    m.all = j.at("all");
    out.push_back(std::move(m));
  }
  return out;
}

std::string DataParallel::rank_line(const std::string& main_role) const {
  return "data parallel: rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + "; rank 0 " +
         main_role;
}

std::string DataParallel::batch_note() const {
  return " (global; " + std::to_string(world_size()) + " processes, each a contiguous shard)";
}

void throw_if_cancelled(const Context& ctx, const DataParallel* parallel) {
  if (!parallel)
    ctx.throw_if_cancelled();
  else if (parallel->stop_requested())
    throw Cancelled();
}

}  // namespace slimpipe::train
