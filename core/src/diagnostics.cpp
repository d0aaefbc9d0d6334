// Diagnostics and did-you-mean suggestions.
#include "slimpipe/core/diagnostics.hpp"

#include <algorithm>

#include "slimpipe/data/text_file.hpp"

namespace slimpipe::core {

namespace {
std::string join_diagnostics(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += (out.empty() ? "" : "\n") + d.str();
  return out;
}
}  // namespace

// Messages quote users' text clipped to about 200 bytes where they build it; this bound catches the rest,
// so that one diagnostic stays one readable line.
constexpr std::size_t kMaxMessageBytes = 2000;

std::string Diagnostic::str() const {
  std::string where = data::clip_for_message(pos.file, 4096);  // a path, or "--set <key>"
  if (pos.line > 0) where += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col);
  return where + ": " + data::clip_for_message(message, kMaxMessageBytes);
}

SpecError::SpecError(std::vector<Diagnostic> diags) : Error(join_diagnostics(diags)), diags_(std::move(diags)) {}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::size_t best = std::string::npos;
  std::string pick;
  const std::size_t reach = std::max<std::size_t>(2, word.size() / 3);
  for (const auto& c : candidates) {
    // The distance is at least the difference in length: skip hopeless candidates (and huge words) early.
    if ((word.size() > c.size() ? word.size() - c.size() : c.size() - word.size()) > reach) continue;
    std::size_t d = edit_distance(word, c);
    if (d < best) {
      best = d;
      pick = c;
    }
  }
  if (pick.empty() || best > reach) return "";
  return " (did you mean '" + pick + "'?)";
}

}  // namespace slimpipe::core
