// slimpipe-serve's dynamic batching: one thread merges the inputs of requests from every connection into model
// calls of at most --max-batch inputs, waiting at most --max-delay-ms after the oldest; a bounded queue refuses
// what does not fit (the caller answers 503).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"
#include "serve_config.hpp"
#include "serve_metrics.hpp"

namespace slimpipe_serve {

using Clock = std::chrono::steady_clock;

struct Reply {
  unsigned status = 200;
  std::string body;
  std::string error_kind;  // for the metrics, when status != 200
};

inline std::string error_body(const std::string& kind, const std::string& message) {
  return Json{{"error", message}, {"error_type", kind}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct Job {
  std::vector<Input> inputs;
  Clock::time_point enqueued;
  std::function<void(Reply)> done;  // called once, from the batching thread
};

class Batcher {
 public:
  Batcher(slimpipe_serve::Engine& engine, const Config& config, Metrics& metrics)
      : engine_(engine), config_(config), metrics_(metrics), thread_([this] { loop(); }) {}
  ~Batcher() { stop(); }

  // False when the queue cannot take the job's inputs (the caller answers 503).
  bool submit(std::shared_ptr<Job> job) {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stopping_ || queued_ + job->inputs.size() > config_.max_queue) return false;
      queued_ += job->inputs.size();
      metrics_.queued_inputs = static_cast<std::int64_t>(queued_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }

  // Jobs queued or running.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(m_);
    return queue_.size() + running_;
  }

  // Runs what is queued, then ends the thread.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    const auto delay =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(config_.max_delay_ms));
    for (;;) {
      std::vector<std::shared_ptr<Job>> jobs;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping, nothing left
        const auto deadline = queue_.front()->enqueued + delay;
        cv_.wait_until(lock, deadline, [&] { return queued_ >= config_.max_batch || stopping_; });
        std::size_t n = 0;
        while (!queue_.empty() && (jobs.empty() || n + queue_.front()->inputs.size() <= config_.max_batch)) {
          n += queue_.front()->inputs.size();
          jobs.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_ -= n;
        running_ = jobs.size();
        metrics_.queued_inputs = static_cast<std::int64_t>(queued_);
      }
      run(jobs);
      std::lock_guard<std::mutex> lock(m_);
      running_ = 0;
    }
  }

  // One model call for all jobs; when it fails, each job alone, so that one bad input fails its own request only.
  void run(const std::vector<std::shared_ptr<Job>>& jobs) {
    std::vector<const Input*> inputs;
    for (const auto& j : jobs)
      for (const auto& in : j->inputs) inputs.push_back(&in);
    std::vector<Json> results;
    try {
      results = call(inputs);
    } catch (const std::exception& e) {
      if (jobs.size() == 1) return fail(*jobs[0], e);
      for (const auto& j : jobs) {
        std::vector<const Input*> own;
        for (const auto& in : j->inputs) own.push_back(&in);
        try {
          finish(*j, call(own), 0);
        } catch (const std::exception& e2) {
          fail(*j, e2);
        }
      }
      return;
    }
    std::size_t offset = 0;
    for (const auto& j : jobs) {
      finish(*j, results, offset);
      offset += j->inputs.size();
    }
  }

  std::vector<Json> call(const std::vector<const Input*>& inputs) {
    const auto t0 = Clock::now();
    auto out = engine_.run(inputs, static_cast<std::int64_t>(config_.max_batch));
    metrics_.model_seconds.observe(std::chrono::duration<double>(Clock::now() - t0).count());
    metrics_.batch.observe(static_cast<double>(inputs.size()));
    metrics_.inputs += inputs.size();
    return out;
  }

  static void finish(Job& job, const std::vector<Json>& results, std::size_t offset) {
    Json arr = Json::array();
    for (std::size_t i = 0; i < job.inputs.size(); ++i) arr.push_back(results.at(offset + i));
    job.done(Reply{200, arr.dump(-1, ' ', false, Json::error_handler_t::replace), {}});
  }

  static void fail(Job& job, const std::exception& e) {
    // An input the runtime refuses (its tokenizer, say) is the request's fault; anything else is ours.
    const bool input = dynamic_cast<const slimpipe_runtime::Error*>(&e) != nullptr;
    const std::string kind = input ? "invalid_input" : "model";
    job.done(Reply{input ? 400u : 500u, error_body(kind, e.what()), kind});
  }

  slimpipe_serve::Engine& engine_;
  const Config& config_;
  Metrics& metrics_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::size_t queued_ = 0, running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace slimpipe_serve
