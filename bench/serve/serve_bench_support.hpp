// Shared by serve_bench's files: its options, the slimpipe-serve process it drives (serve_bench_server.cpp) and the
// load its clients put on it over loopback (serve_bench_client.cpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace serve_bench {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string server, package, json;
  int clients = 16, threads = 2, max_batch = 32;
  double seconds = 10, max_delay_ms = 5;
};

// ---- the server process -------------------------------------------------------------------------------------------

struct ServerProcess {
  pid_t pid = -1;
  unsigned short port = 0;
};

// slimpipe-serve on an ephemeral port at the options' threads, batch and delay; returns once it listens.
ServerProcess start_server(const Args& a);

// The exit status of `pid` (128 + signal when killed), or -1 when it is still running after `timeout_s` (it is
// then killed); `took` is the wait in seconds.
int wait_exit(pid_t pid, double timeout_s, double* took);

// ---- clients ------------------------------------------------------------------------------------------------------

struct Tally {
  std::mutex m;
  std::vector<double> latencies_ms;               // valid requests answered 200
  std::map<std::string, std::uint64_t> outcomes;  // "<kind> <code>" or "<kind> <transport error>"
  std::uint64_t ok = 0;
};

// Runs `clients` threads for `seconds`; with `faults`, one request in four is a fault of a kind in turn.
void load(const Args& a, unsigned short port, const std::vector<std::string>& texts, bool faults, double seconds,
          Tally& tally);

// The body of GET `target` on the server.
std::string get(unsigned short port, const std::string& target);

// The slimpipe_batch_size histogram of /metrics, as counts per bucket ("le" -> count in that bucket).
std::vector<std::pair<std::string, std::uint64_t>> batch_histogram(const std::string& metrics);

}  // namespace serve_bench
