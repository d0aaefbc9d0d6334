// Data parallelism with c10d and Gloo (slimpipe/train/distributed.hpp): where ranks find each other (the
// variables torchrun and srun set, and the errors for bad ones), and two real processes against one: the same
// collectives' results, and SGD on a sharded global batch with averaged gradients matching one process on the whole
// batch step by step.
#include "slimpipe/train/distributed.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"

namespace {

namespace fs = std::filesystem;
using slimpipe::train::DistributedEnv;

const char* const kVars[] = {"RANK",
                             "WORLD_SIZE",
                             "MASTER_ADDR",
                             "MASTER_PORT",
                             "SLURM_PROCID",
                             "SLURM_NTASKS",
                             "SLURM_LAUNCH_NODE_IPADDR",
                             "SLURM_STEP_ID",
                             "SLIMPIPE_DIST_TIMEOUT"};

// Sets exactly the given variables among kVars for the test's duration.
class Env {
 public:
  explicit Env(const std::vector<std::pair<std::string, std::string>>& vars) {
    for (const char* v : kVars) unsetenv(v);
    for (const auto& [k, v] : vars) setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() {
    for (const char* v : kVars) unsetenv(v);
  }
};

std::string error_of(const std::vector<std::pair<std::string, std::string>>& vars) {
  Env e(vars);
  try {
    DistributedEnv::from_environment();
  } catch (const slimpipe::Error& err) {
    return err.what();
  }
  return "no error";
}

TEST(DistributedEnv, ReadsTorchrunAndSlurmVariables) {
  {
    Env e({});
    const auto d = DistributedEnv::from_environment();
    EXPECT_EQ(d.world_size, 1);
    EXPECT_FALSE(d.enabled());
  }
  {
    Env e({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29555"}});
    const auto d = DistributedEnv::from_environment();
    EXPECT_EQ(d.rank, 1);
    EXPECT_EQ(d.world_size, 4);
    EXPECT_EQ(d.master_addr, "10.0.0.5");
    EXPECT_EQ(d.master_port, 29555);
    EXPECT_TRUE(d.enabled());
  }
  {
    Env e({{"SLURM_PROCID", "2"},
           {"SLURM_NTASKS", "3"},
           {"SLURM_STEP_ID", "0"},
           {"SLURM_LAUNCH_NODE_IPADDR", "10.1.1.1"},
           {"MASTER_PORT", "30000"}});
    const auto d = DistributedEnv::from_environment();
    EXPECT_EQ(d.rank, 2);
    EXPECT_EQ(d.world_size, 3);
    EXPECT_EQ(d.master_addr, "10.1.1.1");
  }
  {
    // The batch script of an sbatch --ntasks=3 job (no srun step): one process.
    Env e({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "3"}});
    EXPECT_FALSE(DistributedEnv::from_environment().enabled());
  }
}

TEST(DistributedEnv, BadVariablesAreNamed) {
  EXPECT_EQ(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
            "environment variable RANK='2': expected an integer in [0, 1]");
  EXPECT_EQ(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}),
            "environment variable RANK='x': expected an integer in [0, 1]");
  EXPECT_EQ(error_of({{"RANK", "0"}}), "environment: WORLD_SIZE is not set, but RANK is (set both, as torchrun does)");
  EXPECT_EQ(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}),
            "environment: MASTER_ADDR is not set (the host of rank 0)");
  EXPECT_EQ(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}),
            "environment: MASTER_PORT is not set (a free TCP port on the host of rank 0)");
  EXPECT_EQ(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
            "environment variable MASTER_PORT='70000': expected an integer in [1, 65535]");
  EXPECT_EQ(error_of({{"RANK", "0"},
                      {"WORLD_SIZE", "2"},
                      {"MASTER_ADDR", "h"},
                      {"MASTER_PORT", "1"},
                      {"SLIMPIPE_DIST_TIMEOUT", "0"}}),
            "environment variable SLIMPIPE_DIST_TIMEOUT='0': expected an integer in [1, 604800]");
}

TEST(DistributedEnv, CollectiveTimeoutComesFromSlimpipeDistTimeout) {
  {
    Env e({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
    EXPECT_EQ(DistributedEnv::from_environment().timeout_s, 1800);
  }
  Env e({{"RANK", "0"},
         {"WORLD_SIZE", "2"},
         {"MASTER_ADDR", "h"},
         {"MASTER_PORT", "1"},
         {"SLIMPIPE_DIST_TIMEOUT", "90"}});
  EXPECT_EQ(DistributedEnv::from_environment().timeout_s, 90);
}

std::vector<double> numbers(const fs::path& file) {
  std::ifstream in(file);
  std::vector<double> v;
  for (double x; in >> x;) v.push_back(x);
  return v;
}

int free_port() {
  // From a range the kernel does not hand out for outgoing connections, varied by pid so parallel runs differ.
  return 21000 + static_cast<int>(getpid() % 9000);
}

TEST(Distributed, TwoProcessesTrainLikeOneOnTheWholeBatch) {
  const fs::path dir = fs::temp_directory_path() / ("slimpipe-dist-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string worker = SLIMPIPE_DIST_WORKER;
  const std::string one = (dir / "one.txt").string(), two = (dir / "two.txt").string();
  ASSERT_EQ(std::system(("env -u RANK -u WORLD_SIZE " + worker + " " + one).c_str()), 0);
  const std::string base = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_port()) + " WORLD_SIZE=2 ";
  const std::string cmd = "(" + base + "RANK=1 " + worker + " " + two + ".1 2> " + dir.string() + "/r1.err & " + base +
                          "RANK=0 " + worker + " " + two + " 2> " + dir.string() + "/r0.err; s0=$?; wait $!; s1=$?; " +
                          "exit $((s0 + s1)))";
  const int rc = std::system(("bash -c '" + cmd + "'").c_str());
  std::ifstream e0(dir / "r0.err"), e1(dir / "r1.err");
  std::stringstream errors;
  errors << e0.rdbuf() << e1.rdbuf();
  ASSERT_EQ(rc, 0) << errors.str();
  const auto a = numbers(one), b = numbers(two);
  ASSERT_EQ(a.size(), 20u + 15u);  // 20 losses, then the 5x3 weights
  ASSERT_EQ(b.size(), a.size());
  EXPECT_LT(a[19], a[0]) << "the loss goes down";
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(b[i], a[i], 1e-9 * std::max(1.0, std::abs(a[i]))) << (i < 20 ? "loss at step " : "weight ") << i;
  fs::remove_all(dir);
}

}  // namespace
