// slimpipe-serve PKG: an HTTP/1.1 JSON server for a runtime package (docs/deploy.md, "Serving over HTTP").
// Boost.Beast (header-only) on one or more I/O threads; one batching thread merges the inputs of requests from every
// connection into model calls of at most --max-batch inputs, waiting at most --max-delay-ms after the oldest;
// a bounded queue answers 503 when full; SIGTERM (or SIGINT) stops accepting and drains what is in flight.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "batcher.hpp"
#include "engine.hpp"
#include "serve_config.hpp"
#include "serve_metrics.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using slimpipe_serve::Batcher;
using slimpipe_serve::Config;
using slimpipe_serve::error_body;
using slimpipe_serve::HttpError;
using slimpipe_serve::Input;
using slimpipe_serve::Job;
using slimpipe_serve::Json;
using slimpipe_serve::Metrics;
using slimpipe_serve::parse_args;
using slimpipe_serve::Reply;

// ---- HTTP ---------------------------------------------------------------------------------------------------------

class Server;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server& server);
  ~Session();
  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }
  // On SIGTERM: a connection waiting for a request that has not begun is closed; one with a request in progress
  // is answered, then closed.
  void drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_ && !(self->parser_ && self->parser_->got_some())) self->close_now();
    });
  }

 private:
  void read();
  void on_read(beast::error_code ec, std::size_t);
  void handle(http::request<http::string_body> req);
  void predict(const std::string& body);
  void reply(Reply r, const char* content_type = "application/json", bool close = false);
  void on_write(bool close, unsigned status, beast::error_code ec, std::size_t);
  void linger_close();
  void close_now() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  std::array<char, 4096> discard_{};
  Server& server_;
  bool busy_ = false, keep_alive_ = true;
  unsigned version_ = 11;
  Clock::time_point started_;
};

class Server {
 public:
  Server(Config config, std::unique_ptr<slimpipe_serve::Engine> engine)
      : config_(std::move(config)),
        engine_(std::move(engine)),
        batcher_(*engine_, config_, metrics_),
        acceptor_(ioc_),
        signals_(ioc_, SIGTERM, SIGINT),
        drain_timer_(ioc_),
        work_(net::make_work_guard(ioc_)) {}

  unsigned short listen() {
    const tcp::endpoint ep(net::ip::make_address(config_.host), config_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
    accept();
    wait_signal();
    return acceptor_.local_endpoint().port();
  }

  int run() {
    std::vector<std::thread> threads;
    for (int i = 1; i < config_.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads) t.join();
    batcher_.stop();
    // Drained: a signal from now on must not kill the process on its way out (the signal_set's removal would
    // restore the default action).
    beast::error_code ec;
    signals_.clear(ec);
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    return 0;
  }

  const Config& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  Batcher& batcher() { return batcher_; }
  slimpipe_serve::Engine& engine() { return *engine_; }
  bool draining() const { return draining_; }

  void add(const std::shared_ptr<Session>& s) {
    std::lock_guard<std::mutex> lock(m_);
    sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(), [](const auto& w) { return w.expired(); }),
                    sessions_.end());
    sessions_.push_back(s);
  }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        std::cerr << "slimpipe-serve: accept: " << ec.message() << "\n";  // e.g. out of file descriptors
      } else {
        auto s = std::make_shared<Session>(std::move(socket), *this);
        add(s);
        s->start();
      }
      if (!draining_) accept();
    });
  }

  // The first SIGTERM or SIGINT starts the drain; later ones are noted and change nothing.
  void wait_signal() {
    signals_.async_wait([this](beast::error_code ec, int sig) {
      if (ec) return;
      if (draining_)
        std::cerr << "slimpipe-serve: already draining\n";
      else
        begin_drain(sig);
      wait_signal();
    });
  }

  void begin_drain(int sig) {
    draining_ = true;
    drain_started_ = Clock::now();
    std::cerr << "slimpipe-serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
              << ": not accepting; draining the requests in flight\n";
    beast::error_code ec;
    acceptor_.close(ec);
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(m_);
      for (auto& w : sessions_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->drain();
    check_drained();
  }

  void check_drained() {
    const double waited = std::chrono::duration<double>(Clock::now() - drain_started_).count();
    const bool done = metrics_.open_connections == 0 && batcher_.pending() == 0;
    if (done || waited >= config_.drain_timeout_s) {
      std::cerr << "slimpipe-serve: " << (done ? "drained" : "drain timeout; stopping") << " after " << waited
                << " s\n";
      work_.reset();
      beast::error_code ignored;
      signals_.cancel(ignored);
      ioc_.stop();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(10));
    drain_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) check_drained();
    });
  }

  Config config_;
  Metrics metrics_;
  std::unique_ptr<slimpipe_serve::Engine> engine_;
  Batcher batcher_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer drain_timer_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::atomic<bool> draining_{false};
  Clock::time_point drain_started_;
  std::mutex m_;
  std::vector<std::weak_ptr<Session>> sessions_;
};

Session::Session(tcp::socket socket, Server& server) : stream_(std::move(socket)), server_(server) {
  ++server_.metrics().open_connections;
  ++server_.metrics().connections;
}

Session::~Session() { --server_.metrics().open_connections; }

void Session::read() {
  if (server_.draining()) return linger_close();
  parser_.emplace();
  parser_->body_limit(server_.config().max_body_bytes);
  parser_->header_limit(16 * 1024);
  stream_.expires_after(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(server_.config().read_timeout_s)));
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
}

void Session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream && !parser_->got_some()) return linger_close();  // closed between requests
  if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) return;  // closed by drain()
  if (ec == beast::error::timeout) {
    if (parser_->got_some()) server_.metrics().error("read_timeout");
    return linger_close();
  }
  if (ec == http::error::body_limit) {
    server_.metrics().error("body_too_large");
    return reply(Reply{413,
                       error_body("body_too_large", "request body larger than " +
                                                        std::to_string(server_.config().max_body_bytes) +
                                                        " bytes (--max-body-bytes)"),
                       "body_too_large"},
                 "application/json", true);
  }
  if (ec == http::error::header_limit) {
    server_.metrics().error("header_too_large");
    return reply(
        Reply{431, error_body("header_too_large", "request header larger than 16384 bytes"), "header_too_large"},
        "application/json", true);
  }
  if (ec == http::error::partial_message || ec == net::error::eof || ec == net::error::connection_reset) {
    ++server_.metrics().disconnects;  // the client went away in the middle of its request
    return linger_close();
  }
  if (ec) {
    server_.metrics().error("malformed_http");
    return reply(Reply{400, error_body("malformed_http", "malformed HTTP request: " + ec.message()), "malformed_http"},
                 "application/json", true);
  }
  busy_ = true;
  started_ = Clock::now();
  handle(parser_->release());
}

void Session::handle(http::request<http::string_body> req) {
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  std::string target(req.target());
  target = target.substr(0, target.find('?'));
  const auto method_error = [&](const char* allowed) {
    server_.metrics().error("method_not_allowed");
    reply(Reply{405,
                error_body("method_not_allowed", std::string(req.method_string()) + " " + target + ": use " + allowed),
                "method_not_allowed"});
  };
  if (target == "/healthz") {
    if (req.method() != http::verb::get) return method_error("GET");
    if (server_.draining()) return reply(Reply{503, Json{{"status", "draining"}}.dump(), "draining"});
    const auto& p = server_.engine().package();
    return reply(
        Reply{200,
              Json{{"status", "ok"}, {"task", p.task}, {"labels", p.labels}, {"max_seq_length", p.max_seq_length}}.dump(
                  -1, ' ', false, Json::error_handler_t::replace),
              {}});
  }
  if (target == "/metrics") {
    if (req.method() != http::verb::get) return method_error("GET");
    return reply(Reply{200, server_.metrics().text(), {}}, "text/plain; version=0.0.4");
  }
  if (target == "/v1/predict") {
    if (req.method() != http::verb::post) return method_error("POST");
    return predict(req.body());
  }
  server_.metrics().error("not_found");
  reply(Reply{404,
              error_body("not_found", target + ": no such endpoint (POST /v1/predict, GET /healthz, GET /metrics)"),
              "not_found"});
}

void Session::predict(const std::string& body) {
  std::vector<Input> inputs;
  try {
    inputs = slimpipe_serve::parse_request(server_.engine(), body, server_.config().limits);
  } catch (const HttpError& e) {
    server_.metrics().error(e.kind);
    return reply(Reply{e.status, error_body(e.kind, e.what()), e.kind});
  }
  if (inputs.empty()) return reply(Reply{200, "[]", {}});
  if (server_.draining()) {
    server_.metrics().error("draining");
    return reply(Reply{503, error_body("draining", "the server is shutting down"), "draining"}, "application/json",
                 true);
  }
  auto job = std::make_shared<Job>();
  job->inputs = std::move(inputs);
  job->enqueued = Clock::now();
  job->done = [self = shared_from_this()](Reply r) {
    net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
      if (r.status != 200) self->server_.metrics().error(r.error_kind);
      self->reply(std::move(r));
    });
  };
  if (!server_.batcher().submit(job)) {
    server_.metrics().error("queue_full");
    reply(Reply{503,
                error_body("queue_full", "too many inputs waiting (--max-queue " +
                                             std::to_string(server_.config().max_queue) + "); retry later"),
                "queue_full"});
  }
}

void Session::reply(Reply r, const char* content_type, bool close) {
  if (!busy_) started_ = Clock::now();
  busy_ = true;
  close = close || !keep_alive_ || server_.draining();
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
  res->set(http::field::server, "slimpipe-serve");
  res->set(http::field::content_type, content_type);
  if (r.status == 503) res->set(http::field::retry_after, "1");
  res->keep_alive(!close);
  res->body() = std::move(r.body);
  res->prepare_payload();
  res_ = res;
  stream_.expires_after(std::chrono::seconds(30));
  http::async_write(stream_, *res_, beast::bind_front_handler(&Session::on_write, shared_from_this(), close, r.status));
}

void Session::on_write(bool close, unsigned status, beast::error_code ec, std::size_t) {
  server_.metrics().answered(status);
  server_.metrics().latency.observe(std::chrono::duration<double>(Clock::now() - started_).count());
  busy_ = false;
  res_.reset();
  if (ec) {
    ++server_.metrics().disconnects;
    return close_now();
  }
  if (close) return linger_close();
  read();
}

// Half-close, then read and discard until the client closes (at most 2 s): closing a socket with unread input
// would reset the connection, and the client could lose the response it has not read yet (a 413, say).
void Session::linger_close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close_now();
  stream_.expires_after(std::chrono::seconds(2));
  stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code e, std::size_t) {
    if (e) return self->close_now();
    self->linger_close();
  });
}

// libgomp reads OMP_WAIT_POLICY once, when it is loaded: a server sets it before its own start by running itself
// again. Passive: the model's threads sleep between batches instead of spinning on the cores the HTTP thread needs.
void ensure_passive_omp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  ::execv("/proc/self/exe", argv);
  // Not re-executed (no /proc): run with the default policy.
}

}  // namespace

int main(int argc, char** argv) {
  ensure_passive_omp(argv);
  const Config config = parse_args(argc, argv);
  try {
    const auto dir = slimpipe_serve::find_package(config.package);
    slimpipe_runtime::Options options;
    options.verify_package = config.verify;
    slimpipe_runtime::set_threads(
        config.threads > 0 ? config.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    auto engine = slimpipe_serve::load_engine(dir, options);
    std::signal(SIGPIPE, SIG_IGN);
    Server server(config, std::move(engine));
    const unsigned short port = server.listen();
    std::cout << "slimpipe-serve: " << dir.string() << " (" << server.engine().package().task << ", "
              << slimpipe_runtime::threads() << " threads, max batch " << config.max_batch << ", max delay "
              << config.max_delay_ms << " ms) listening on http://" << config.host << ":" << port << std::endl;
    return server.run();
  } catch (const std::exception& e) {
    std::cerr << "slimpipe-serve: " << e.what() << "\n";
    return 1;
  }
}
