// Numbers as the logs, tables and reports print them.
#pragma once

#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

namespace slimpipe {

// `v` with `digits` decimals; "inf" / "-inf" for infinities.
inline std::string fixed(double v, int digits) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// "+0.50", "-1.25", never "-0.00".
inline std::string signed_fixed(double v, int digits) {
  if (std::fabs(v) < 0.5 * std::pow(10.0, -digits)) v = 0.0;
  return (v > 0 ? "+" : "") + fixed(v, digits);
}

}  // namespace slimpipe
