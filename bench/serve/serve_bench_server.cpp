// serve_bench's slimpipe-serve process: started on an ephemeral port, its exit awaited.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "serve_bench_support.hpp"

namespace serve_bench {

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

}  // namespace serve_bench
