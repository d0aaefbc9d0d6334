// slimpipe-serve's metrics in the Prometheus text format: counters by status code and error kind, histograms of
// request latency, batch size and model time, gauges of the queue and the connections.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace slimpipe_serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v) {
    std::lock_guard<std::mutex> lock(m_);
    const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    ++counts_[i];
    sum_ += v;
  }
  void write(std::ostream& os, const std::string& name) const {
    std::lock_guard<std::mutex> lock(m_);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += counts_[i];
      os << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << "\n";
    }
    cumulative += counts_.back();
    os << name << "_bucket{le=\"+Inf\"} " << cumulative << "\n"
       << name << "_sum " << sum_ << "\n"
       << name << "_count " << cumulative << "\n";
  }

 private:
  mutable std::mutex m_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
};

class Metrics {
 public:
  Histogram latency{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram batch{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
  Histogram model_seconds{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  std::atomic<std::uint64_t> inputs{0}, disconnects{0}, connections{0};
  std::atomic<std::int64_t> queued_inputs{0}, open_connections{0};

  void answered(unsigned status) { bump(codes_, std::to_string(status)); }
  void error(const std::string& kind) { bump(errors_, kind); }

  std::string text() const {
    std::ostringstream os;
    os << "# HELP slimpipe_requests_total HTTP responses sent, by status code.\n"
       << "# TYPE slimpipe_requests_total counter\n";
    write_map(os, "slimpipe_requests_total", "code", codes_);
    os << "# HELP slimpipe_errors_total Requests refused or failed, by kind.\n# TYPE slimpipe_errors_total counter\n";
    write_map(os, "slimpipe_errors_total", "kind", errors_);
    os << "# HELP slimpipe_inputs_total Inputs (texts, question-context pairs) predicted.\n"
       << "# TYPE slimpipe_inputs_total counter\nslimpipe_inputs_total " << inputs << "\n"
       << "# HELP slimpipe_request_duration_seconds From a request read to its response written.\n"
       << "# TYPE slimpipe_request_duration_seconds histogram\n";
    latency.write(os, "slimpipe_request_duration_seconds");
    os << "# HELP slimpipe_batch_size Inputs per model call (dynamic batching).\n# TYPE slimpipe_batch_size "
          "histogram\n";
    batch.write(os, "slimpipe_batch_size");
    os << "# HELP slimpipe_model_duration_seconds Time of one model call (tokenization included).\n"
       << "# TYPE slimpipe_model_duration_seconds histogram\n";
    model_seconds.write(os, "slimpipe_model_duration_seconds");
    os << "# HELP slimpipe_queue_inputs Inputs waiting for a model call.\n# TYPE slimpipe_queue_inputs gauge\n"
       << "slimpipe_queue_inputs " << queued_inputs << "\n"
       << "# HELP slimpipe_connections_open Open HTTP connections.\n# TYPE slimpipe_connections_open gauge\n"
       << "slimpipe_connections_open " << open_connections << "\n"
       << "# HELP slimpipe_connections_total HTTP connections accepted.\n# TYPE slimpipe_connections_total counter\n"
       << "slimpipe_connections_total " << connections << "\n"
       << "# HELP slimpipe_client_disconnects_total Connections closed by the client in the middle of a request.\n"
       << "# TYPE slimpipe_client_disconnects_total counter\nslimpipe_client_disconnects_total " << disconnects << "\n";
    return os.str();
  }

 private:
  using Counts = std::map<std::string, std::uint64_t>;
  void bump(Counts& counts, const std::string& key) {
    std::lock_guard<std::mutex> lock(m_);
    ++counts[key];
  }
  void write_map(std::ostream& os, const std::string& name, const std::string& label, const Counts& counts) const {
    std::lock_guard<std::mutex> lock(m_);
    for (const auto& [k, v] : counts) os << name << "{" << label << "=\"" << k << "\"} " << v << "\n";
  }
  mutable std::mutex m_;
  Counts codes_, errors_;
};

}  // namespace slimpipe_serve
