// Test strategy: sleeps, records when it started and ended, and writes a small artifact. Lets the
// tests observe scheduling (overlap, order, reruns) without any model code.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "slimpipe/plugin.hpp"
#include "slimpipe/strategy.hpp"

namespace {

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One write() per line on an O_APPEND descriptor: lines from concurrent instances never interleave.
void append_line(const std::string& path, const std::string& line) {
  if (path.empty()) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw slimpipe::Error(path + ": cannot open record file");
  std::string l = line + "\n";
  ssize_t n = ::write(fd, l.data(), l.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(l.size())) throw slimpipe::Error(path + ": short write");
}

class SleepRecord final : public slimpipe::Strategy {
 public:
  using Interface = slimpipe::Strategy;

  std::vector<std::string> outputs(const slimpipe::Params& p) const override {
    auto outs = p.get_string_list("outputs");
    if (outs.empty()) return {""};
    return outs;
  }

  void run(slimpipe::Context& ctx, const std::vector<slimpipe::Artifact>& inputs, const slimpipe::Params& p) override {
    const std::string record = p.get_string("record");
    append_line(record, "start " + ctx.instance_id() + " " + std::to_string(now_us()));
    // The sleep is a phase with progress, in 10 ms steps, as a strategy's training loop would report it.
    const auto begin = std::chrono::steady_clock::now();
    const auto until = begin + std::chrono::milliseconds(p.get_int("sleep_ms"));
    const std::int64_t steps = std::max<std::int64_t>(1, p.get_int("sleep_ms") / 10);
    ctx.progress().begin("sleep", steps);
    while (std::chrono::steady_clock::now() < until) {
      ctx.throw_if_cancelled();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - begin).count();
      ctx.progress().update(std::min<std::int64_t>(steps, ms / 10), "x=" + p.raw("x").dump());
    }
    ctx.progress().update(steps);
    ctx.progress().end();
    const auto& x = p.raw("x");
    for (const auto& f : p.json().at("fail_on"))
      if (f == x) throw slimpipe::Error("instance " + ctx.instance_id() + " told to fail (x = " + x.dump() + ")");
    if (p.get_bool("use_task")) ctx.task();  // throws when the pipeline has no [task]
    std::string input_desc;
    for (const auto& a : inputs) input_desc += a.id() + ":" + a.hash() + "\n";
    for (const auto& name : outputs(p)) {
      auto& out = ctx.output(name);
      std::ofstream(out.dir() / "out.txt") << p.json().dump() << "\n" << input_desc << p.get_string("payload") << "\n";
      out.set_kind("test");
      if (x.is_number()) out.set_metric("x", x.get<double>());
    }
    ctx.progress().begin("work", 1);
    ctx.progress().update(1);
    ctx.progress().end();
    append_line(record, "end " + ctx.instance_id() + " " + std::to_string(now_us()));
  }
};

slimpipe::Schema schema() {
  using slimpipe::ParamType;
  return slimpipe::Schema()
      .param("sleep_ms", ParamType::Int, 0, "how long to sleep, checking for cancellation")
      .param("record", ParamType::Path, "", "file to append 'start|end <id> <microseconds>' lines to")
      .param("fail_on", ParamType::ScalarList, slimpipe::Json::array(), "fail when x is one of these")
      .param("x", ParamType::Scalar, 0, "free axis")
      .param("y", ParamType::Scalar, 0, "free axis")
      .param("z", ParamType::Scalar, 0, "free axis")
      .param("outputs", ParamType::StringList, slimpipe::Json::array(), "names of the artifacts to write (default one)")
      .param("payload", ParamType::String, "", "text written into the artifact")
      .param("use_task", ParamType::Bool, false, "ask the context for the pipeline's task")
      .param("mode", ParamType::String, "normal", "a parameter with allowed values", {"normal", "fast"});
}

}  // namespace

#ifndef SLEEP_RECORD_NAME
#define SLEEP_RECORD_NAME "sleep_record"
#endif

SLIMPIPE_PLUGIN(SleepRecord, SLEEP_RECORD_NAME, "1.0.0", "test strategy: sleeps and records what ran", schema)
