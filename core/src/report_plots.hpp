// Inline SVG charts for report.html (no script, no network): scatter plots of a metric against latency or
// size with the Pareto front, bars of per-site sensitivity, and a metric-vs-width line.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace slimpipe::core::plots {

// How a model was made, for its marker: fp32 (circle), pruned fp32 (square), INT8 (triangle), pruned INT8
// (diamond).
enum class Family { Fp32, Pruned, Int8, PrunedInt8 };

struct Point {
  double x = 0, y = 0;
  std::string id;     // the artifact id, in the marker's hover title
  std::string label;  // a short label drawn beside the chosen model and the baseline
  Family family = Family::Fp32;
  bool chosen = false, baseline = false;
};

// A scatter plot with higher-y-is-better and lower-x-is-better: the points that no other point beats on
// both axes are joined as the Pareto front. Markers carry class "mark" and data-x / data-y; the plot area is
// the rect of class "plot-area".
std::string scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                    const std::vector<Point>& points);

// Horizontal bars: one per (name, value), in the order given; `value_label` names the unit.
std::string bars(const std::string& title, const std::string& value_label,
                 const std::vector<std::pair<std::string, double>>& values);

// A line of y against x (x ascending), markers as in scatter().
std::string line(const std::string& title, const std::string& x_label, const std::string& y_label,
                 std::vector<Point> points);

// Text for HTML and SVG: & < > " escaped.
std::string html_escape(const std::string& s);

// The legend of the four marker families, as inline SVG.
std::string legend();

}  // namespace slimpipe::core::plots
