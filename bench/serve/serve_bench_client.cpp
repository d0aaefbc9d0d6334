// serve_bench's clients: keep-alive HTTP connections to slimpipe-serve over loopback, valid requests and every
// kind of fault, and the GETs of /metrics and /healthz.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serve_bench_support.hpp"

namespace serve_bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

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

}  // namespace

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

}  // namespace serve_bench
