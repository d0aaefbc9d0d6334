// The trade-off charts of report.html (metric against latency, size and width; site sensitivities) and the short
// labels its tables and markers share. report.cpp renders the rest of the page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/core/report.hpp"

namespace slimpipe::core::report_charts {

// A short label for a row in a table or beside a marker: the model's label (a PTQ cell's name) and width, a width,
// or the id's last part; the full id goes in a title.
std::string short_label(const ReportRow& r);

// Every chart of the report, as inline SVG, in the order the page shows them: the metric against latency at each
// of `batches`, against size and against width, then each sensitivity's bars. `primary` names the metric ("" when
// the rows disagree).
std::vector<std::string> trade_off_charts(const RunReport& report, const std::vector<std::int64_t>& batches,
                                          const std::string& primary);

}  // namespace slimpipe::core::report_charts
