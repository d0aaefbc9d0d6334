// Load and fault bench of slimpipe-serve, on loopback, bounded in time (docs/deploy.md, "Throughput").
//
//   serve_bench --server build/bin/slimpipe-serve --package runs/quickstart/rank/runtime [--clients 16]
//               [--seconds 10] [--threads 2] [--max-batch 32] [--max-delay-ms 5] [--json FILE]
//
// 1. in-process: Classifier::predict on batches of 32 texts for --seconds, at --threads: texts/s.
// 2. load: the server started at --threads; --clients keep-alive connections, each sending one text per request
//    as fast as answered, for --seconds: req/s, p50/p99 latency, the server's batch-size histogram, errors; the
//    ratio of req/s to the in-process texts/s.
// 3. fault mix: the same load with malformed JSON, oversized bodies, over-long texts, too many inputs, unknown
//    paths and clients that disconnect mid-request mixed in: every answer must be the intended one (200 or a 503
//    of the bounded queue for valid requests, 400/404/413 for the faults), the server must stay up.
// 4. SIGTERM under load: the server must exit 0 once the requests in flight are answered.
// The texts are random sentences of the package's vocabulary (6-20 words, fixed seed). Exit status 1 when a check
// of 3 or 4 fails.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "serve_bench_support.hpp"
#include "slimpipe_runtime/classifier.hpp"

namespace {

using namespace serve_bench;
using Json = nlohmann::json;

std::vector<std::string> make_texts(const std::string& package, std::size_t n) {
  std::ifstream in(package + "/vocab.txt");
  std::vector<std::string> words;
  for (std::string w; std::getline(in, w);)
    if (!w.empty() && w[0] != '[' && w.rfind("##", 0) != 0) words.push_back(w);
  if (words.empty()) throw std::runtime_error(package + "/vocab.txt: no words");
  std::mt19937 rng(17);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < n; ++i) {
    const int len = std::uniform_int_distribution<int>(6, 20)(rng);
    std::string t;
    for (int k = 0; k < len; ++k) t += (k ? " " : "") + words[rng() % words.size()];
    texts.push_back(t);
  }
  return texts;
}

double in_process(const Args& a, const std::vector<std::string>& texts) {
  slimpipe_runtime::set_threads(a.threads);
  auto clf = slimpipe_runtime::Classifier::load(a.package);
  std::vector<std::string> batch(texts.begin(), texts.begin() + 32);
  (void)clf.predict(batch, 32);  // warm-up: the workspace's shapes
  std::size_t done = 0, at = 0;
  const auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < a.seconds) {
    for (std::size_t i = 0; i < 32; ++i) batch[i] = texts[(at + i) % texts.size()];
    at += 32;
    done += clf.predict(batch, 32).size();
  }
  return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--server")
      a.server = v;
    else if (k == "--package")
      a.package = v;
    else if (k == "--json")
      a.json = v;
    else if (k == "--clients")
      a.clients = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stod(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--max-batch")
      a.max_batch = std::stoi(v);
    else if (k == "--max-delay-ms")
      a.max_delay_ms = std::stod(v);
    else
      throw std::runtime_error("unknown option " + k);
  }
  if (a.server.empty() || a.package.empty() || a.clients < 1 || a.seconds <= 0 || a.threads < 1)
    throw std::runtime_error(
        "usage: serve_bench --server SLIMPIPE_SERVE --package PKG [--clients N] [--seconds S] "
        "[--threads N] [--max-batch N] [--max-delay-ms X] [--json FILE]");
  return a;
}

// The CPU's name and which of the instruction sets the runtime's kernels choose between it has.
std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string model = "unknown CPU", flags;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0 && model == "unknown CPU") model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && flags.empty()) flags = line + " ";
  }
  std::string isa;
  for (const char* f : {"avx512_vnni", "avx512f", "avx2"})
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) isa += std::string(isa.empty() ? "" : "+") + f;
  return model + " (" + (isa.empty() ? "no AVX2" : isa) + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores)";
}

void print_outcomes(const std::map<std::string, std::uint64_t>& outcomes) {
  for (const auto& [k, v] : outcomes) std::printf(" [%s] %llu", k.c_str(), static_cast<unsigned long long>(v));
}

// 2. load: req/s, latencies and the server's batch sizes, against the in-process texts/s.
Json load_phase(const Args& a, const ServerProcess& server, const std::vector<std::string>& texts, double inproc) {
  Tally t1;
  load(a, server.port, texts, false, a.seconds, t1);
  const double rps = static_cast<double>(t1.latencies_ms.size()) / a.seconds;
  const auto hist = batch_histogram(get(server.port, "/metrics"));
  std::printf("load: %.0f req/s (one text each), p50 %.2f ms, p99 %.2f ms; %.2fx in-process batch 32\n", rps,
              percentile(t1.latencies_ms, 0.5), percentile(t1.latencies_ms, 0.99), rps / inproc);
  std::printf("  batch sizes (server's model calls, by histogram bucket <=):");
  Json jh = Json::object();
  for (const auto& [le, n] : hist) {
    std::printf(" %s:%llu", le.c_str(), static_cast<unsigned long long>(n));
    jh[le] = n;
  }
  std::printf("\n  outcomes:");
  print_outcomes(t1.outcomes);
  std::printf("\n");
  return {{"req_per_s", rps},
          {"p50_ms", percentile(t1.latencies_ms, 0.5)},
          {"p99_ms", percentile(t1.latencies_ms, 0.99)},
          {"ratio_to_in_process", rps / inproc},
          {"batch_size_buckets", jh},
          {"outcomes", t1.outcomes}};
}

// 3. fault mix: `ok` when every answer was an intended one and /healthz still answers ok.
Json fault_phase(const Args& a, const ServerProcess& server, const std::vector<std::string>& texts, bool& ok) {
  Tally t2;
  load(a, server.port, texts, true, a.seconds, t2);
  ok = true;
  const std::map<std::string, std::vector<std::string>> intended = {
      {"valid", {"200", "503"}}, {"malformed_json", {"400"}},  {"oversized_body", {"413"}},
      {"long_text", {"400"}},    {"too_many_inputs", {"413"}}, {"bad_path", {"404"}}};
  std::printf("fault mix: %.0f valid req/s answered 200, p50 %.2f ms, p99 %.2f ms\n  outcomes:",
              static_cast<double>(t2.latencies_ms.size()) / a.seconds, percentile(t2.latencies_ms, 0.5),
              percentile(t2.latencies_ms, 0.99));
  for (const auto& [k, v] : t2.outcomes) {
    std::printf(" [%s] %llu", k.c_str(), static_cast<unsigned long long>(v));
    const auto space = k.find(' ');
    const auto it = intended.find(k.substr(0, space));
    if (it != intended.end() &&
        std::find(it->second.begin(), it->second.end(), k.substr(space + 1)) == it->second.end())
      ok = false;
  }
  std::string health;
  try {
    health = get(server.port, "/healthz");
  } catch (const std::exception& e) {
    health = std::string("(") + e.what() + ")";
  }
  ok = ok && health.find("\"ok\"") != std::string::npos;
  std::printf("\n  only intended answers: %s; /healthz after: %s\n", ok ? "yes" : "NO", health.c_str());
  return {{"outcomes", t2.outcomes}, {"only_intended", ok}, {"healthz_after", health}};
}

// 4. SIGTERM under load: `ok` when the server exits 0 and every request sent before the signal is answered.
Json sigterm_phase(const Args& a, const ServerProcess& server, const std::vector<std::string>& texts, bool& ok) {
  Tally t3;
  std::thread term([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds / 2));
    kill(server.pid, SIGTERM);
  });
  double took = 0;
  int code = -2;
  std::thread waiter([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds / 2));
    code = wait_exit(server.pid, 60, &took);
  });
  load(a, server.port, texts, false, a.seconds, t3);
  term.join();
  waiter.join();
  // Every request sent before the signal is answered: besides 200 (and 503 while draining) only refused
  // connections, once the server has closed its socket.
  ok = code == 0;
  for (const auto& [k, v] : t3.outcomes)
    if (k != "valid 200" && k != "valid 503" && k != "valid refused (server gone)") ok = false;
  std::printf("SIGTERM under load: exit status %d, %.3f s after the signal, %s; outcomes:", code, took,
              ok ? "drained" : "NOT DRAINED");
  print_outcomes(t3.outcomes);
  std::printf("\n");
  return {{"exit_status", code}, {"drained", ok}, {"seconds_to_exit", took}, {"outcomes", t3.outcomes}};
}

}  // namespace

int main(int argc, char** argv) {
  // As slimpipe-serve does: passive OpenMP threads (libgomp reads the variable once, at load), so that both sides
  // of the comparison run alike and the clients' threads are not starved by spinning ones.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);
  }
  try {
    const Args a = parse(argc, argv);
    const auto texts = make_texts(a.package, 512);
    Json report = {{"cpu", cpu_name()},
                   {"isa", slimpipe_runtime::cpu_isa()},
                   {"threads", a.threads},
                   {"clients", a.clients},
                   {"seconds", a.seconds},
                   {"max_batch", a.max_batch},
                   {"max_delay_ms", a.max_delay_ms}};
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    std::printf("serve_bench: %s, %s, %d threads, OMP_WAIT_POLICY=%s, %d clients, %.1f s per phase\n",
                cpu_name().c_str(), slimpipe_runtime::cpu_isa().c_str(), a.threads, policy ? policy : "(unset)",
                a.clients, a.seconds);

    const double inproc = in_process(a, texts);
    std::printf("in-process Classifier::predict, batch 32: %.0f texts/s\n", inproc);
    report["in_process_texts_per_s"] = inproc;

    const ServerProcess server = start_server(a);
    report["load"] = load_phase(a, server, texts, inproc);
    bool faults_ok = false, term_ok = false;
    report["fault_mix"] = fault_phase(a, server, texts, faults_ok);
    report["sigterm"] = sigterm_phase(a, server, texts, term_ok);

    if (!a.json.empty()) std::ofstream(a.json) << report.dump(1) << "\n";
    return faults_ok && term_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_bench: %s\n", e.what());
    return 1;
  }
}
