// slimpipe-serve's command line (serve_config.hpp).
#include "serve_config.hpp"

#include <cstdlib>
#include <iostream>
#include <type_traits>

namespace slimpipe_serve {

namespace {

constexpr const char* kUsage =
    "usage: slimpipe-serve PKG [options]\n"
    "  PKG: a runtime package folder, or a folder holding one as runtime/ (a rank folder)\n"
    "  --host ADDR            listen address (default 127.0.0.1)\n"
    "  --port N               port (default 8080; 0: any free port, printed at start)\n"
    "  --threads N            model threads (default: every core)\n"
    "  --io-threads N         HTTP threads (default 1)\n"
    "  --max-batch N          most inputs per model call (default 32)\n"
    "  --max-delay-ms X       longest wait for a batch to fill, after its first request (default 5)\n"
    "  --max-queue N          most inputs waiting; beyond, 503 (default 1024)\n"
    "  --max-body-bytes N     largest request body; beyond, 413 (default 1048576)\n"
    "  --max-inputs N         most inputs in one request; beyond, 413 (default 256)\n"
    "  --max-text-bytes N     longest text in bytes; beyond, 400 (default 16384)\n"
    "  --read-timeout-s X     a request must arrive within X seconds (default 30)\n"
    "  --drain-timeout-s X    on SIGTERM, longest wait for requests in flight (default 30)\n"
    "  --no-verify            skip the SHA-1 check of the package's files at load\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "slimpipe-serve: " << message << "\n" << kUsage;
  std::exit(2);
}

template <class T>
T number(const std::string& flag, const std::string& value, double lo, double hi) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || value.empty() || !(v >= lo && v <= hi) ||
      (std::is_integral<T>::value && v != static_cast<double>(static_cast<long long>(v))))
    usage_error(flag + ": expected a" + (std::is_integral<T>::value ? "n integer" : " number") + " in [" +
                std::to_string(static_cast<long long>(lo)) + ", " + std::to_string(static_cast<long long>(hi)) +
                "], got '" + value + "'");
  return static_cast<T>(v);
}

}  // namespace

Config parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (a == "--no-verify") {
      c.verify = false;
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) usage_error(a + ": needs a value");
      const std::string v = argv[++i];
      if (a == "--host")
        c.host = v;
      else if (a == "--port")
        c.port = number<unsigned short>(a, v, 0, 65535);
      else if (a == "--threads")
        c.threads = number<int>(a, v, 1, 1024);
      else if (a == "--io-threads")
        c.io_threads = number<int>(a, v, 1, 64);
      else if (a == "--max-batch")
        c.max_batch = number<std::size_t>(a, v, 1, 4096);
      else if (a == "--max-delay-ms")
        c.max_delay_ms = number<double>(a, v, 0, 10000);
      else if (a == "--max-queue")
        c.max_queue = number<std::size_t>(a, v, 1, 1e7);
      else if (a == "--max-body-bytes")
        c.max_body_bytes = number<std::size_t>(a, v, 64, 1e9);
      else if (a == "--max-inputs")
        c.limits.max_inputs = number<std::size_t>(a, v, 1, 1e6);
      else if (a == "--max-text-bytes")
        c.limits.max_text_bytes = number<std::size_t>(a, v, 1, 1e8);
      else if (a == "--read-timeout-s")
        c.read_timeout_s = number<double>(a, v, 0.01, 86400);
      else if (a == "--drain-timeout-s")
        c.drain_timeout_s = number<double>(a, v, 0, 86400);
      else
        usage_error("unknown option " + a);
      continue;
    }
    if (!c.package.empty()) usage_error("one package folder, got '" + c.package + "' and '" + a + "'");
    c.package = a;
  }
  if (c.package.empty()) usage_error("no package folder given");
  if (c.limits.max_inputs > c.max_queue)
    usage_error("--max-inputs (" + std::to_string(c.limits.max_inputs) + ") must not exceed --max-queue (" +
                std::to_string(c.max_queue) + ")");
  return c;
}

}  // namespace slimpipe_serve
