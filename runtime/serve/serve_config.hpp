// slimpipe-serve's command line: the options, their limits and the usage text.
#pragma once

#include <cstddef>
#include <string>

#include "engine.hpp"

namespace slimpipe_serve {

struct Config {
  std::string package;
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int threads = 0;  // model threads; 0: every core
  int io_threads = 1;
  std::size_t max_batch = 32;
  double max_delay_ms = 5;
  std::size_t max_queue = 1024;  // inputs waiting
  std::size_t max_body_bytes = 1 << 20;
  double read_timeout_s = 30;
  double drain_timeout_s = 30;
  bool verify = true;
  slimpipe_serve::Limits limits;
};

// The options of argv; a bad one prints the problem and the usage and exits 2, --help prints the usage and
// exits 0.
Config parse_args(int argc, char** argv);

}  // namespace slimpipe_serve
