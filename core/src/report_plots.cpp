// Inline SVG charts for report.html (report_plots.hpp). Colours come from CSS classes that report.html
// defines for light, dark and print.
#include "report_plots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace slimpipe::core::plots {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

constexpr double kWidth = 560, kHeight = 340;
constexpr double kLeft = 64, kRight = 20, kTop = 34, kBottom = 48;

std::string esc(const std::string& s) { return html_escape(s); }

std::string num(double v, int digits = 2) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Round tick positions covering [lo, hi]: 1, 2 or 5 times a power of ten apart.
std::vector<double> ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag >= 5 ? 5 * mag : raw / mag >= 2 ? 2 * mag : mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

int digits_for(const std::vector<double>& t) {
  if (t.size() < 2) return 2;
  const double step = t[1] - t[0];
  return step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
}

const char* family_class(Family f) {
  switch (f) {
    case Family::Fp32:
      return "fp32";
    case Family::Pruned:
      return "pruned";
    case Family::Int8:
      return "int8";
    case Family::PrunedInt8:
      return "pruned-int8";
  }
  return "fp32";
}

const char* family_name(Family f) {
  switch (f) {
    case Family::Fp32:
      return "fp32";
    case Family::Pruned:
      return "pruned fp32";
    case Family::Int8:
      return "INT8";
    case Family::PrunedInt8:
      return "pruned + INT8";
  }
  return "";
}

// The marker's shape at (x, y), radius r.
std::string shape(Family f, double x, double y, double r) {
  std::ostringstream s;
  switch (f) {
    case Family::Fp32:
      s << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"" << num(r) << "\"/>";
      break;
    case Family::Pruned:
      s << "<rect x=\"" << num(x - r) << "\" y=\"" << num(y - r) << "\" width=\"" << num(2 * r) << "\" height=\""
        << num(2 * r) << "\"/>";
      break;
    case Family::Int8:
      s << "<polygon points=\"" << num(x) << "," << num(y - r * 1.2) << " " << num(x - r * 1.1) << ","
        << num(y + r * 0.8) << " " << num(x + r * 1.1) << "," << num(y + r * 0.8) << "\"/>";
      break;
    case Family::PrunedInt8:
      s << "<polygon points=\"" << num(x) << "," << num(y - r * 1.3) << " " << num(x + r * 1.3) << "," << num(y) << " "
        << num(x) << "," << num(y + r * 1.3) << " " << num(x - r * 1.3) << "," << num(y) << "\"/>";
      break;
  }
  return s.str();
}

struct Frame {
  double x0, x1, y0, y1;  // data ranges
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

// Ranges with a margin, so markers sit inside the plot area.
Frame frame_for(const std::vector<Point>& pts) {
  double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  auto pad = [](double& lo, double& hi, bool from_zero) {
    double span = hi - lo;
    if (span <= 0) span = std::max(std::abs(hi) * 0.1, 1e-3);
    lo -= span * 0.12;
    hi += span * 0.12;
    if (from_zero && lo < 0) lo = 0;
  };
  pad(x0, x1, true);
  pad(y0, y1, false);
  return {x0, x1, y0, y1};
}

void axes(std::ostringstream& s, const Frame& f, const std::string& title, const std::string& x_label,
          const std::string& y_label) {
  s << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << kHeight
    << "\" width=\"" << kWidth << "\" height=\"" << kHeight << "\" role=\"img\" aria-label=\"" << esc(title) << "\">"
    << "<title>" << esc(title) << "</title>"
    << "<text class=\"chart-title\" x=\"" << kLeft << "\" y=\"20\">" << esc(title) << "</text>"
    << "<rect class=\"plot-area\" x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kWidth - kLeft - kRight
    << "\" height=\"" << kHeight - kTop - kBottom << "\"/>";
  const auto xt = ticks(f.x0, f.x1), yt = ticks(f.y0, f.y1);
  for (double t : xt) {
    if (t < f.x0 || t > f.x1) continue;
    s << "<line class=\"grid\" x1=\"" << num(f.px(t)) << "\" x2=\"" << num(f.px(t)) << "\" y1=\"" << kTop << "\" y2=\""
      << kHeight - kBottom << "\"/><text class=\"tick\" text-anchor=\"middle\" x=\"" << num(f.px(t)) << "\" y=\""
      << kHeight - kBottom + 16 << "\">" << num(t, digits_for(xt)) << "</text>";
  }
  for (double t : yt) {
    if (t < f.y0 || t > f.y1) continue;
    s << "<line class=\"grid\" x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << num(f.py(t))
      << "\" y2=\"" << num(f.py(t)) << "\"/><text class=\"tick\" text-anchor=\"end\" x=\"" << kLeft - 6 << "\" y=\""
      << num(f.py(t) + 4) << "\">" << num(t, digits_for(yt)) << "</text>";
  }
  s << "<text class=\"axis-label\" text-anchor=\"middle\" x=\"" << num((kLeft + kWidth - kRight) / 2) << "\" y=\""
    << kHeight - 8 << "\">" << esc(x_label) << "</text>"
    << "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(16,"
    << num((kTop + kHeight - kBottom) / 2) << ") rotate(-90)\">" << esc(y_label) << "</text>";
}

void markers(std::ostringstream& s, const Frame& f, const std::vector<Point>& pts, const std::string& x_label,
             const std::string& y_label) {
  // The chosen model last, so it is drawn on top.
  std::vector<const Point*> order;
  for (const auto& p : pts) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](const Point* a, const Point* b) { return !a->chosen && b->chosen; });
  for (const Point* p : order) {
    const double x = f.px(p->x), y = f.py(p->y);
    s << "<g class=\"mark " << family_class(p->family) << (p->chosen ? " chosen" : "")
      << (p->baseline ? " baseline" : "") << "\" data-x=\"" << num(x) << "\" data-y=\"" << num(y) << "\"><title>"
      << esc(p->id) << " (" << family_name(p->family) << "): " << esc(y_label) << " " << num(p->y) << ", "
      << esc(x_label) << " " << num(p->x, 3) << (p->chosen ? "; chosen" : "") << (p->baseline ? "; baseline" : "")
      << "</title>" << shape(p->family, x, y, p->chosen ? 7 : 5) << "</g>";
    if (p->chosen || p->baseline) {
      const bool right_half = x > (kLeft + kWidth - kRight) / 2;
      s << "<text class=\"mark-label\" x=\"" << num(right_half ? x - 10 : x + 10) << "\" y=\""
        << num(p->chosen ? y - 10 : y + 16) << "\" text-anchor=\"" << (right_half ? "end" : "start") << "\">"
        << esc(p->chosen ? "chosen: " + p->label : "baseline") << "</text>";
    }
  }
}

}  // namespace

std::string scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                    const std::vector<Point>& points) {
  std::ostringstream s;
  if (points.empty()) return "";
  const Frame f = frame_for(points);
  axes(s, f, title, x_label, y_label);
  // Pareto front: by x ascending (ties: higher y first), each point better than every one before it.
  std::vector<const Point*> by_x;
  for (const auto& p : points) by_x.push_back(&p);
  std::sort(by_x.begin(), by_x.end(),
            [](const Point* a, const Point* b) { return a->x < b->x || (a->x == b->x && a->y > b->y); });
  std::string front;
  double best = -std::numeric_limits<double>::infinity();
  double last_y = 0;
  for (const Point* p : by_x) {
    if (p->y <= best) continue;
    if (!front.empty()) front += " " + num(f.px(p->x)) + "," + num(f.py(last_y));  // a step: better only to the right
    front += (front.empty() ? "" : " ") + num(f.px(p->x)) + "," + num(f.py(p->y));
    best = last_y = p->y;
  }
  s << "<polyline class=\"front\" points=\"" << front
    << "\"><title>Pareto front: no model is both faster (or smaller) and "
    << "better</title></polyline>";
  markers(s, f, points, x_label, y_label);
  s << "</svg>";
  return s.str();
}

std::string line(const std::string& title, const std::string& x_label, const std::string& y_label,
                 std::vector<Point> points) {
  std::ostringstream s;
  if (points.size() < 2) return "";
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
  const Frame f = frame_for(points);
  axes(s, f, title, x_label, y_label);
  s << "<polyline class=\"series\" points=\"";
  for (std::size_t i = 0; i < points.size(); ++i)
    s << (i ? " " : "") << num(f.px(points[i].x)) << "," << num(f.py(points[i].y));
  s << "\"/>";
  markers(s, f, points, x_label, y_label);
  s << "</svg>";
  return s.str();
}

std::string bars(const std::string& title, const std::string& value_label,
                 const std::vector<std::pair<std::string, double>>& values) {
  if (values.empty()) return "";
  const double row = 18, left = 250, right = 60, top = 34;
  const double height = top + row * static_cast<double>(values.size()) + 30;
  double hi = 0;
  for (const auto& [n, v] : values) hi = std::max(hi, v);
  if (hi <= 0) hi = 1;
  const double span = kWidth - left - right;
  std::ostringstream s;
  s << "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << num(height)
    << "\" width=\"" << kWidth << "\" height=\"" << num(height) << "\" role=\"img\" aria-label=\"" << esc(title)
    << "\">"
    << "<title>" << esc(title) << "</title><text class=\"chart-title\" x=\"8\" y=\"20\">" << esc(title) << "</text>"
    << "<rect class=\"plot-area\" x=\"" << left << "\" y=\"" << top << "\" width=\"" << span << "\" height=\""
    << num(row * static_cast<double>(values.size())) << "\"/>";
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double y = top + row * static_cast<double>(i);
    const double w = std::max(1.0, values[i].second / hi * span);
    std::string name = values[i].first;
    if (name.size() > 40) name = "…" + name.substr(name.size() - 39);
    s << "<g class=\"bar\"><title>" << esc(values[i].first) << ": " << esc(value_label) << " "
      << num(values[i].second, 1) << "</title><text class=\"tick\" text-anchor=\"end\" x=\"" << left - 6 << "\" y=\""
      << num(y + 13) << "\">" << esc(name) << "</text><rect x=\"" << left << "\" y=\"" << num(y + 3) << "\" width=\""
      << num(w) << "\" height=\"" << row - 6 << "\"/><text class=\"tick\" x=\"" << num(left + w + 4) << "\" y=\""
      << num(y + 13) << "\">" << num(values[i].second, 1) << "</text></g>";
  }
  s << "<text class=\"axis-label\" text-anchor=\"middle\" x=\"" << num(left + span / 2) << "\" y=\"" << num(height - 8)
    << "\">" << esc(value_label) << "</text></svg>";
  return s.str();
}

std::string legend() {
  std::ostringstream s;
  s << "<svg class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 560 24\" width=\"560\" height=\"24\" "
       "role=\"img\" aria-label=\"legend\">";
  double x = 8;
  for (Family f : {Family::Fp32, Family::Pruned, Family::Int8, Family::PrunedInt8}) {
    s << "<g class=\"mark " << family_class(f) << "\">" << shape(f, x + 6, 12, 5) << "</g><text class=\"tick\" x=\""
      << num(x + 16) << "\" y=\"16\">" << family_name(f) << "</text>";
    x += 110;
  }
  s << "<polyline class=\"front\" points=\"" << num(x) << ",12 " << num(x + 20) << ",12\"/><text class=\"tick\" x=\""
    << num(x + 26) << "\" y=\"16\">Pareto front</text></svg>";
  return s.str();
}

}  // namespace slimpipe::core::plots
