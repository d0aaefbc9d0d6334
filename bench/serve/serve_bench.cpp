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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "slimpipe_runtime/classifier.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct Args {
  std::string server, package, json;
  int clients = 16, threads = 2, max_batch = 32;
  double seconds = 10, max_delay_ms = 5;
};

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

// ---- the server process ---------------------------------------------------------------------------------------------

struct ServerProcess {
  pid_t pid = -1;
  unsigned short port = 0;
};

ServerProcess start_server(const Args& a) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    const std::string threads = std::to_string(a.threads), batch = std::to_string(a.max_batch);
    std::ostringstream delay;
    delay << a.max_delay_ms;
    const std::string d = delay.str();
    execl(a.server.c_str(), a.server.c_str(), a.package.c_str(), "--port", "0", "--threads", threads.c_str(),
          "--max-batch", batch.c_str(), "--max-delay-ms", d.c_str(), "--max-queue", "1024", "--no-verify",
          static_cast<char*>(nullptr));
    std::perror("exec slimpipe-serve");
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  const auto colon = line.rfind(':');
  if (colon == std::string::npos || line.find("listening") == std::string::npos)
    throw std::runtime_error("slimpipe-serve did not start: '" + line + "'");
  ServerProcess s;
  s.pid = pid;
  s.port = static_cast<unsigned short>(std::stoi(line.substr(colon + 1)));
  return s;
}

int wait_exit(pid_t pid, double timeout_s, double* took) {
  const auto t0 = Clock::now();
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *took = std::chrono::duration<double>(Clock::now() - t0).count();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::duration<double>(Clock::now() - t0).count() > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *took = timeout_s;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// ---- clients
// ------------------------------------------------------------------------------------------------------------

enum class Kind { Valid, MalformedJson, Oversized, LongText, TooMany, BadPath, Disconnect };
const char* name(Kind k) {
  switch (k) {
    case Kind::Valid:
      return "valid";
    case Kind::MalformedJson:
      return "malformed_json";
    case Kind::Oversized:
      return "oversized_body";
    case Kind::LongText:
      return "long_text";
    case Kind::TooMany:
      return "too_many_inputs";
    case Kind::BadPath:
      return "bad_path";
    case Kind::Disconnect:
      return "disconnect";
  }
  return "?";
}

struct Tally {
  std::mutex m;
  std::vector<double> latencies_ms;               // valid requests answered 200
  std::map<std::string, std::uint64_t> outcomes;  // "<kind> <code>" or "<kind> <transport error>"
  std::uint64_t ok = 0;
};

class Client {
 public:
  explicit Client(unsigned short port) : port_(port), socket_(ioc_) {}

  // One request and its answer: the status, or 0 with `error` set when the connection failed.
  unsigned request(const std::string& target, const std::string& body, std::string& error) {
    try {
      connect();
      http::request<http::string_body> req{http::verb::post, target, 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
      http::write(socket_, req);
      http::response<http::string_body> res;
      http::read(socket_, buffer_, res);
      if (!res.keep_alive()) reset();
      return res.result_int();
    } catch (const std::exception& e) {
      error = e.what();
      reset();
      return 0;
    }
  }

  // A body of `declared` bytes announced, `sent` of them written: the server answers 413 at the header when
  // `declared` is beyond its limit.
  unsigned oversized(std::size_t declared, std::string& error) {
    try {
      connect();
      std::string head =
          "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(declared) + "\r\n\r\n{\"inputs\": [\"";
      net::write(socket_, net::buffer(head));
      http::response<http::string_body> res;
      http::read(socket_, buffer_, res);
      reset();
      return res.result_int();
    } catch (const std::exception& e) {
      error = e.what();
      reset();
      return 0;
    }
  }

  // Half a request, then the connection closed.
  void disconnect_mid_request() {
    try {
      connect();
      const std::string part = "POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200\r\n\r\n{\"inp";
      net::write(socket_, net::buffer(part));
    } catch (const std::exception&) {
    }
    reset();
  }

 private:
  void connect() {
    if (socket_.is_open()) return;
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    socket_.set_option(tcp::no_delay(true));
  }
  void reset() {
    beast::error_code ec;
    socket_.close(ec);
    buffer_.clear();
  }
  unsigned short port_;
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string predict_body(const std::string& text) { return Json{{"inputs", Json::array({text})}}.dump(); }

// Runs `clients` threads for `seconds`; with `faults`, one request in four is a fault of a kind in turn.
void load(const Args& a, unsigned short port, const std::vector<std::string>& texts, bool faults, double seconds,
          Tally& tally) {
  std::atomic<bool> stop{false};
  const std::string long_text(20000, 'a');
  std::string too_many = "{\"inputs\": [";
  for (int i = 0; i < 300; ++i) too_many += std::string(i ? "," : "") + "\"a\"";
  too_many += "]}";
  std::vector<std::thread> threads;
  for (int c = 0; c < a.clients; ++c) {
    threads.emplace_back([&, c] {
      Client client(port);
      std::mt19937 rng(static_cast<unsigned>(c) + 1);
      std::vector<double> lat;
      std::map<std::string, std::uint64_t> outcomes;
      std::uint64_t n = 0;
      while (!stop) {
        Kind kind = Kind::Valid;
        if (faults && rng() % 4 == 0) kind = static_cast<Kind>(1 + rng() % 6);
        std::string error;
        unsigned status = 0;
        const auto t0 = Clock::now();
        switch (kind) {
          case Kind::Valid:
            status = client.request("/v1/predict", predict_body(texts[(c * 7919 + n) % texts.size()]), error);
            break;
          case Kind::MalformedJson:
            status = client.request("/v1/predict", "{\"inputs\": [\"a great", error);
            break;
          case Kind::Oversized:
            status = client.oversized(8u << 20, error);
            break;
          case Kind::LongText:
            status = client.request("/v1/predict", predict_body(long_text), error);
            break;
          case Kind::TooMany:
            status = client.request("/v1/predict", too_many, error);
            break;
          case Kind::BadPath:
            status = client.request("/v2/predict", predict_body("a"), error);
            break;
          case Kind::Disconnect:
            client.disconnect_mid_request();
            break;
        }
        ++n;
        if (kind == Kind::Valid && status == 200)
          lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (kind == Kind::Valid && status == 0 && error.find("refused") != std::string::npos) {
          ++outcomes["valid refused (server gone)"];  // after SIGTERM: the listening socket is closed
          break;
        }
        if (kind != Kind::Disconnect)
          ++outcomes[std::string(name(kind)) + " " + (status ? std::to_string(status) : error)];
        else
          ++outcomes["disconnect (no answer expected)"];
      }
      std::lock_guard<std::mutex> lock(tally.m);
      tally.latencies_ms.insert(tally.latencies_ms.end(), lat.begin(), lat.end());
      for (const auto& [k, v] : outcomes) tally.outcomes[k] += v;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string get(unsigned short port, const std::string& target) {
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  return res.body();
}

// The slimpipe_batch_size histogram of /metrics, as counts per bucket ("le" -> count in that bucket).
std::vector<std::pair<std::string, std::uint64_t>> batch_histogram(const std::string& metrics) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  std::istringstream in(metrics);
  std::uint64_t previous = 0;
  for (std::string line; std::getline(in, line);) {
    const std::string prefix = "slimpipe_batch_size_bucket{le=\"";
    if (line.rfind(prefix, 0) != 0) continue;
    const auto q = line.find('"', prefix.size());
    const std::uint64_t cumulative = std::stoull(line.substr(line.rfind(' ') + 1));
    if (cumulative > previous) out.emplace_back(line.substr(prefix.size(), q - prefix.size()), cumulative - previous);
    previous = cumulative;
  }
  return out;
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

    ServerProcess server = start_server(a);
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
    for (const auto& [k, v] : t1.outcomes) std::printf(" [%s] %llu", k.c_str(), static_cast<unsigned long long>(v));
    std::printf("\n");
    report["load"] = {{"req_per_s", rps},
                      {"p50_ms", percentile(t1.latencies_ms, 0.5)},
                      {"p99_ms", percentile(t1.latencies_ms, 0.99)},
                      {"ratio_to_in_process", rps / inproc},
                      {"batch_size_buckets", jh},
                      {"outcomes", t1.outcomes}};

    // Fault mix.
    Tally t2;
    load(a, server.port, texts, true, a.seconds, t2);
    bool faults_ok = true;
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
        faults_ok = false;
    }
    std::string health;
    try {
      health = get(server.port, "/healthz");
    } catch (const std::exception& e) {
      health = std::string("(") + e.what() + ")";
    }
    faults_ok = faults_ok && health.find("\"ok\"") != std::string::npos;
    std::printf("\n  only intended answers: %s; /healthz after: %s\n", faults_ok ? "yes" : "NO", health.c_str());
    report["fault_mix"] = {{"outcomes", t2.outcomes}, {"only_intended", faults_ok}, {"healthz_after", health}};

    // SIGTERM under load.
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
    bool term_ok = code == 0;
    for (const auto& [k, v] : t3.outcomes)
      if (k != "valid 200" && k != "valid 503" && k != "valid refused (server gone)") term_ok = false;
    std::printf("SIGTERM under load: exit status %d, %.3f s after the signal, %s; outcomes:", code, took,
                term_ok ? "drained" : "NOT DRAINED");
    for (const auto& [k, v] : t3.outcomes) std::printf(" [%s] %llu", k.c_str(), static_cast<unsigned long long>(v));
    std::printf("\n");
    report["sigterm"] = {
        {"exit_status", code}, {"drained", term_ok}, {"seconds_to_exit", took}, {"outcomes", t3.outcomes}};

    if (!a.json.empty()) std::ofstream(a.json) << report.dump(1) << "\n";
    return faults_ok && term_ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_bench: %s\n", e.what());
    return 1;
  }
}
