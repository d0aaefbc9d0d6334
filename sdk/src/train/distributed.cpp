// Data parallelism with c10d and Gloo (distributed.hpp).
#include "slimpipe/train/distributed.hpp"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "slimpipe/error.hpp"

namespace slimpipe::train {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int low, int high) {
  const char* v = env(name);
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || v[used] != '\0' || x < low || x > high)
    throw Error(std::string("environment variable ") + name + "='" + v + "': expected an integer in [" +
                std::to_string(low) + ", " + std::to_string(high) + "]");
  return static_cast<int>(x);
}

// The collective's result, or an Error naming what failed.
void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    throw Error(std::string("distributed ") + what + " failed: " + e.what());
  }
}

// A store client of its own for the next group `name` (a TCPStore client serialises its operations: two groups
// forming side by side on one client would each wait on it while holding it), and that group's key prefix. Rank 0
// serves the store from its first group until the process exits, so a rank that forms its next group never meets
// a server that rank 0 is tearing down.
std::pair<c10::intrusive_ptr<c10d::Store>, std::string> group_store(const DistributedEnv& e, const std::string& name,
                                                                    std::chrono::milliseconds timeout) {
  static std::mutex mutex;
  static auto* servers = new std::map<std::string, c10::intrusive_ptr<c10d::Store>>();
  static auto* uses = new std::map<std::string, int>();
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(e.master_port);
  o.numWorkers = static_cast<std::size_t>(e.world_size);
  o.waitWorkers = false;
  o.timeout = timeout;
  const std::string key = e.master_addr + ":" + std::to_string(e.master_port) + "/" + std::to_string(e.world_size);
  int n = 0;
  {
    const std::lock_guard<std::mutex> lock(mutex);
    if (e.rank == 0 && !servers->count(key)) {
      o.isServer = true;
      (*servers)[key] = c10::make_intrusive<c10d::TCPStore>(e.master_addr, o);
    }
    n = (*uses)[key + "/" + name]++;
  }
  o.isServer = false;  // the client retries until the server is up, for `timeout`
  return {c10::make_intrusive<c10d::TCPStore>(e.master_addr, o), name + "#" + std::to_string(n) + "/"};
}

}  // namespace

DistributedEnv DistributedEnv::from_environment() {
  DistributedEnv d;
  const bool torchrun = env("RANK") || env("WORLD_SIZE");
  // Slurm's variables count only inside an srun step: a batch script of an --ntasks=N job has SLURM_PROCID=0 and
  // SLURM_NTASKS=N too, but it is one process.
  const bool slurm =
      !torchrun && env("SLURM_PROCID") && env("SLURM_NTASKS") && (env("SLURM_STEP_ID") || env("SLURM_STEPID"));
  if (!torchrun && !slurm) return d;
  const char* rank_var = torchrun ? "RANK" : "SLURM_PROCID";
  const char* size_var = torchrun ? "WORLD_SIZE" : "SLURM_NTASKS";
  if (!env(rank_var) || !env(size_var))
    throw Error(std::string("environment: ") + (env(rank_var) ? size_var : rank_var) + " is not set, but " +
                (env(rank_var) ? rank_var : size_var) + " is (set both, as torchrun does)");
  d.world_size = env_int(size_var, 1, 1 << 20);
  d.rank = env_int(rank_var, 0, d.world_size - 1);
  if (const char* addr = env("MASTER_ADDR"))
    d.master_addr = addr;
  else if (const char* launch = slurm ? env("SLURM_LAUNCH_NODE_IPADDR") : nullptr)
    d.master_addr = launch;
  else if (d.world_size > 1)
    throw Error(std::string("environment: MASTER_ADDR is not set (the host of rank 0") +
                (slurm ? "; nor is SLURM_LAUNCH_NODE_IPADDR)" : ")"));
  if (env("MASTER_PORT"))
    d.master_port = env_int("MASTER_PORT", 1, 65535);
  else if (d.world_size > 1)
    throw Error("environment: MASTER_PORT is not set (a free TCP port on the host of rank 0)");
  if (env("SLIMPIPE_DIST_TIMEOUT")) d.timeout_s = env_int("SLIMPIPE_DIST_TIMEOUT", 1, 7 * 24 * 3600);
  return d;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

ProcessGroup::ProcessGroup(const DistributedEnv& e, std::chrono::milliseconds timeout, const std::string& name)
    : impl_(new Impl) {
  if (e.world_size < 1 || e.rank < 0 || e.rank >= e.world_size)
    throw Error("distributed: rank " + std::to_string(e.rank) + " is outside [0, " + std::to_string(e.world_size) +
                ")");
  const std::string where = e.master_addr + ":" + std::to_string(e.master_port);
  try {
    auto [store, prefix] = group_store(e, name, timeout);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
        e.master_addr == "localhost" || e.master_addr.rfind("127.", 0) == 0 ? "127.0.0.1" : e.master_addr));
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, e.rank, e.world_size, options);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Error("distributed: rank " + std::to_string(e.rank) + " of " + std::to_string(e.world_size) +
                " could not join the group at " + where + ": " + ex.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->group->getRank(); }
int ProcessGroup::world_size() const { return impl_->group->getSize(); }

void ProcessGroup::average(const std::vector<at::Tensor>& tensors) {
  // One flat buffer per dtype: one allreduce each.
  std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    if (!at::isFloatingType(t.scalar_type()))
      throw Error(std::string("distributed average: a tensor of type ") + c10::toString(t.scalar_type()) +
                  " (expected floating point)");
    by_type[t.scalar_type()].push_back(t);
  }
  for (auto& [type, group] : by_type) {
    std::vector<at::Tensor> flat;
    for (const auto& t : group) flat.push_back(t.detach().reshape({-1}));
    std::vector<at::Tensor> buffer{at::cat(flat)};
    wait(impl_->group->allreduce(buffer), "allreduce");
    buffer[0].div_(static_cast<double>(world_size()));
    std::int64_t offset = 0;
    for (auto& t : group) {
      const std::int64_t n = t.numel();
      t.detach().copy_(buffer[0].narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
}

void ProcessGroup::average_gradients(const std::vector<at::Tensor>& parameters) {
  std::vector<at::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  average(grads);
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    std::vector<at::Tensor> one{t.detach()};
    wait(impl_->group->broadcast(one, o), "broadcast");
  }
}

std::string ProcessGroup::broadcast_text(const std::string& text, int root) {
  at::Tensor size = at::full({1}, static_cast<std::int64_t>(text.size()), at::kLong);
  broadcast({size}, root);
  at::Tensor bytes = at::empty({size.item<std::int64_t>()}, at::kByte);
  if (bytes.numel() == 0) return {};
  if (rank() == root) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  broadcast({bytes}, root);
  return std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<std::size_t>(bytes.numel()));
}

void ProcessGroup::barrier() { wait(impl_->group->barrier(), "barrier"); }

}  // namespace slimpipe::train
