// `slimpipe launch --nproc N [--master-port P] -- COMMAND [ARGS...]`: torchrun's single-host launcher. Starts N
// processes of COMMAND with the variables slimpipe::train::DistributedEnv reads, passes SIGINT and SIGTERM on to
// them, and when one fails stops the others and exits with its status, naming its rank (docs/training.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"

extern char** environ;

namespace slimpipe::cli {

namespace {

const char* kLaunchUsage = R"(usage: slimpipe launch --nproc N [--master-port P] -- COMMAND [ARGS...]

Starts N processes of COMMAND on this host for data-parallel training, as torchrun does. Each gets
  RANK, LOCAL_RANK         0 .. N-1
  WORLD_SIZE               N
  MASTER_ADDR, MASTER_PORT 127.0.0.1 and P (default: a free port)
  SLIMPIPE_RANK_SUFFIX     "" for rank 0, ".rank<R>" for rank R > 0 (for a per-rank output_dir:
                           --set 'pipeline.output_dir=runs/x${SLIMPIPE_RANK_SUFFIX}')
SIGINT and SIGTERM are passed on to every rank (after SIGTERM, ranks still running 5 s later are killed).
When a rank exits non-zero, the others are stopped (SIGTERM, then SIGKILL after 5 s) and launch exits with
that rank's status.
)";

struct LaunchOptions {
  int nproc = 0;
  int port = 0;  // 0: a free one
  std::vector<std::string> command;
};

int parse_int(const std::string& flag, const std::string& text, int low, int high) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < low || v > high)
    throw UsageError("launch: " + flag + " expects an integer in [" + std::to_string(low) + ", " +
                     std::to_string(high) + "], got '" + text + "'");
  return static_cast<int>(v);
}

// Options up to `--` (or the first word that is not one), then the command. Empty `command` with nproc -1: --help.
LaunchOptions parse_launch(const std::vector<std::string>& args) {
  LaunchOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--" || a.empty() || a[0] != '-') {
      o.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i + (a == "--" ? 1 : 0)), args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      o.nproc = -1;
      return o;
    }
    const std::string flag = a.substr(0, a.find('='));
    if (flag != "--nproc" && flag != "--master-port")
      throw UsageError("launch: unknown option '" + a + "' (expected --nproc N, --master-port P, then -- COMMAND)");
    std::string value;
    if (flag.size() < a.size())
      value = a.substr(flag.size() + 1);
    else if (i + 1 < args.size())
      value = args[++i];
    else
      throw UsageError("launch: " + flag + " needs a value");
    if (flag == "--nproc")
      o.nproc = parse_int(flag, value, 1, 1024);
    else
      o.port = parse_int(flag, value, 1, 65535);
  }
  if (o.nproc == 0) throw UsageError("launch: --nproc N is required (how many processes to start)");
  if (o.command.empty()) throw UsageError("launch: no command to run (write it after --)");
  return o;
}

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick; rank 0 binds it moments later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("launch: cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw Error(std::string("launch: cannot find a free port on 127.0.0.1: ") + std::strerror(err));
  return ntohs(addr.sin_port);
}

// The environment of rank `rank`: this process's, with the launcher's variables replaced.
std::vector<std::string> rank_environment(int rank, int nproc, int port) {
  const std::vector<std::pair<std::string, std::string>> vars = {
      {"RANK", std::to_string(rank)},        {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(nproc)}, {"MASTER_ADDR", "127.0.0.1"},
      {"MASTER_PORT", std::to_string(port)}, {"SLIMPIPE_RANK_SUFFIX", rank == 0 ? "" : ".rank" + std::to_string(rank)}};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& v : vars) replaced = replaced || v.first == name;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  return env;
}

// The child's side of fork: its own process group (a terminal's Ctrl-C reaches only the launcher, which passes it
// on once), SIGTERM when the launcher dies, the signal mask it had, then exec. Async-signal-safe calls only.
[[noreturn]] void exec_rank(char* const* argv, char* const* envp, const sigset_t& old_mask, pid_t launcher) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != launcher) ::_exit(143);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::execvpe(argv[0], argv, envp);
  const char msg[] = "slimpipe launch: cannot run the command: ";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  const char* why = std::strerror(errno);
  ignored = ::write(2, why, std::strlen(why));
  ignored = ::write(2, "\n", 1);
  (void)ignored;
  ::_exit(127);
}

struct Rank {
  pid_t pid = -1;
  bool running = false;
};

int exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

std::string describe(int wait_status) {
  if (WIFSIGNALED(wait_status)) return "was killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "exited with status " + std::to_string(exit_status(wait_status));
}

void signal_all(std::vector<Rank>& ranks, int sig) {
  for (const Rank& r : ranks)
    if (r.running) ::kill(-r.pid, sig);
}

// Starts every rank with SIGINT, SIGTERM and SIGCHLD blocked here (the wait loop takes them with sigtimedwait).
std::vector<Rank> start_ranks(const LaunchOptions& o, int port, const sigset_t& old_mask) {
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<Rank> ranks(static_cast<std::size_t>(o.nproc));
  const pid_t launcher = ::getpid();
  for (int r = 0; r < o.nproc; ++r) {
    const std::vector<std::string> env = rank_environment(r, o.nproc, port);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      signal_all(ranks, SIGTERM);
      throw Error("launch: cannot start rank " + std::to_string(r) + ": " + std::strerror(errno));
    }
    if (pid == 0) exec_rank(argv.data(), envp.data(), old_mask, launcher);
    ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
    ranks[static_cast<std::size_t>(r)] = {pid, true};
  }
  return ranks;
}

// Waits for every rank. The first to fail stops the others; its status is the result (else the first non-zero).
int supervise(std::vector<Rank>& ranks) {
  using clock = std::chrono::steady_clock;
  sigset_t wanted;
  sigemptyset(&wanted);
  for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&wanted, s);
  std::size_t running = ranks.size();
  int result = 0, interrupted = 0;
  bool stopping = false, killed = false;
  clock::time_point kill_at{};
  while (running > 0) {
    const timespec tick{0, 200 * 1000 * 1000};
    const int sig = ::sigtimedwait(&wanted, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      interrupted = sig;
      signal_all(ranks, sig);
      if (sig == SIGTERM && !stopping) {  // a rank blocked in a collective cannot act on it: SIGKILL follows
        stopping = true;
        kill_at = clock::now() + std::chrono::seconds(5);
      }
    }
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      for (std::size_t r = 0; r < ranks.size(); ++r) {
        if (ranks[r].pid != pid || !ranks[r].running) continue;
        ranks[r].running = false;
        --running;
        if (exit_status(status) == 0 || result != 0) continue;
        result = exit_status(status);
        if (stopping || interrupted) continue;
        std::cerr << "slimpipe launch: rank " << r << " (pid " << pid << ") " << describe(status)
                  << "; stopping the other ranks\n";
        stopping = true;
        kill_at = clock::now() + std::chrono::seconds(5);
        signal_all(ranks, SIGTERM);
      }
    }
    if (stopping && !killed && running > 0 && clock::now() >= kill_at) {
      signal_all(ranks, SIGKILL);
      killed = true;
    }
  }
  return result;
}

}  // namespace

int cmd_launch(const std::vector<std::string>& args) {
  const LaunchOptions o = parse_launch(args);
  if (o.nproc < 0) {
    std::cout << kLaunchUsage;
    return 0;
  }
  const int port = o.port > 0 ? o.port : free_port();
  sigset_t blocked, old_mask;
  sigemptyset(&blocked);
  for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&blocked, s);
  ::sigprocmask(SIG_BLOCK, &blocked, &old_mask);
  std::cerr << "slimpipe launch: " << o.nproc << " process" << (o.nproc == 1 ? "" : "es")
            << ", MASTER_ADDR=127.0.0.1 MASTER_PORT=" << port << "\n";
  std::vector<Rank> ranks = start_ranks(o, port, old_mask);
  const int result = supervise(ranks);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return result;
}

}  // namespace slimpipe::cli
