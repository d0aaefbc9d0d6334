// Small helpers the run report's builder (report_build.cpp) and renderer (report.cpp) share: typed reads of
// optional JSON fields and number formatting.
#pragma once

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/core/report.hpp"
#include "slimpipe/numbers.hpp"

namespace slimpipe::core::report_util {

inline std::optional<double> number(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

inline std::optional<std::int64_t> integer(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) return j[key].get<std::int64_t>();
  return std::nullopt;
}

inline std::string text(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

using slimpipe::fixed;
using slimpipe::signed_fixed;

inline bool is_model(const ReportRow& r) { return r.kind.find("model") != std::string::npos; }

// The metric the rows share, or "" when they disagree (then each cell names its metric).
inline std::string common_primary(const std::vector<ReportRow>& rows) {
  std::set<std::string> names;
  for (const auto& r : rows)
    if (!r.primary.empty()) names.insert(r.primary);
  return names.size() == 1 ? *names.begin() : "";
}

}  // namespace slimpipe::core::report_util
