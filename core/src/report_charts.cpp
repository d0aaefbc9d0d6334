// The trade-off charts of report.html (report_charts.hpp).
#include "report_charts.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>

#include "report_plots.hpp"
#include "report_util.hpp"

namespace slimpipe::core::report_charts {

namespace {

using report_util::fixed;
using report_util::is_model;

plots::Family family_of(const ReportRow& r) {
  const bool int8 = r.kind.find("quantized") != std::string::npos;
  const bool pruned = r.width && *r.width < 0.999;
  return int8 ? (pruned ? plots::Family::PrunedInt8 : plots::Family::Int8)
              : (pruned ? plots::Family::Pruned : plots::Family::Fp32);
}

// Every model (not an assessing node's copy of its best) with a metric and an x value, as a marker.
std::vector<plots::Point> model_points(const std::vector<ReportRow>& rows,
                                       const std::function<std::optional<double>(const ReportRow&)>& x) {
  std::set<std::string> baselines;
  for (const auto& r : rows)
    if (!r.baseline.empty()) baselines.insert(r.baseline);
  std::vector<plots::Point> pts;
  for (const auto& r : rows) {
    if (!is_model(r) || r.assessor || !r.metric || r.status != "done") continue;
    const auto xv = x(r);
    if (!xv) continue;
    pts.push_back({*xv, *r.metric, r.id, short_label(r), family_of(r), r.best, baselines.count(r.id) > 0});
  }
  return pts;
}

// Pruned fp32 models (DynaBERT widths): the metric against width, the unpruned model at 1.0.
std::vector<plots::Point> width_points(const std::vector<ReportRow>& rows) {
  std::vector<plots::Point> widths;
  for (const auto& r : rows)
    if (r.kind == "model" && !r.assessor && r.metric && r.width && *r.width < 0.999) {
      widths.push_back({*r.width, *r.metric, r.id, short_label(r), plots::Family::Pruned, false, false});
      for (const auto& base : rows)
        if (base.id == r.baseline && base.metric &&
            std::none_of(widths.begin(), widths.end(), [&](const plots::Point& p) { return p.id == base.id; }))
          widths.push_back({1.0, *base.metric, base.id, short_label(base), plots::Family::Fp32, false, true});
    }
  return widths;
}

}  // namespace

std::string short_label(const ReportRow& r) {
  const bool pruned = r.width && *r.width < 0.999;
  if (!r.label.empty()) return r.label + (pruned ? " w" + fixed(*r.width, 2) : "");
  if (pruned) return "width " + fixed(*r.width, 2);
  const auto slash = r.id.find_last_of('/');
  std::string last = slash == std::string::npos ? r.id : r.id.substr(slash + 1);
  return last.size() > 28 ? last.substr(0, 27) + "…" : last;
}

std::vector<std::string> trade_off_charts(const RunReport& report, const std::vector<std::int64_t>& batches,
                                          const std::string& primary) {
  const std::vector<ReportRow>& rows = report.rows;
  const std::string metric_name = primary.empty() ? "metric" : primary;
  std::vector<std::string> charts;
  for (const std::int64_t b : batches) {
    auto pts = model_points(rows, [b](const ReportRow& r) -> std::optional<double> {
      const auto it = r.latency.find(b);
      if (it == r.latency.end() || it->second.p50_ms <= 0) return std::nullopt;
      return it->second.p50_ms;
    });
    if (pts.size() >= 2)
      charts.push_back(plots::scatter(metric_name + " vs latency, batch " + std::to_string(b),
                                      "p50 latency (ms), batch " + std::to_string(b), metric_name, pts));
  }
  {
    auto pts = model_points(rows, [](const ReportRow& r) -> std::optional<double> {
      if (!r.model_bytes) return std::nullopt;
      return static_cast<double>(*r.model_bytes) / 1e6;
    });
    if (pts.size() >= 2)
      charts.push_back(plots::scatter(metric_name + " vs size", "model size (MB)", metric_name, pts));
  }
  const std::vector<plots::Point> widths = width_points(rows);
  if (widths.size() >= 2) charts.push_back(plots::line(metric_name + " vs width", "width", metric_name, widths));
  for (const auto& sens : report.sensitivities) {
    std::vector<std::pair<std::string, double>> bars(
        sens.sites.begin(),
        sens.sites.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(16, sens.sites.size())));
    charts.push_back(plots::bars("Site sensitivity of the chosen model, " + short_label(rows[sens.row]),
                                 "output SQNR (dB) with only this site quantized", bars));
  }
  return charts;
}

}  // namespace slimpipe::core::report_charts
