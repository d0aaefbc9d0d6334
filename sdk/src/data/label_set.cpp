// LabelSet: the mapping between label names in users' files and the ids models predict.
// Closed sets catch typos in data files early instead of silently adding a class.
#include "slimpipe/data/label_set.hpp"

#include "slimpipe/data/text_file.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::data {

LabelSet::LabelSet(std::vector<std::string> names) : closed_(true) {
  for (auto& n : names) {
    if (n.empty()) throw Error("label list: empty label name");
    if (ids_.count(n)) throw Error("label list: label '" + n + "' appears twice");
    ids_.emplace(n, static_cast<std::int64_t>(names_.size()));
    names_.push_back(std::move(n));
  }
  if (names_.empty()) throw Error("label list: no labels given");
}

const std::string& LabelSet::name(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= names_.size())
    throw Error("label id " + std::to_string(id) + " out of range (" + std::to_string(names_.size()) +
                " labels: " + joined() + ")");
  return names_[static_cast<std::size_t>(id)];
}

std::int64_t LabelSet::find(const std::string& name) const {
  auto it = ids_.find(name);
  return it == ids_.end() ? -1 : it->second;
}

std::int64_t LabelSet::id(const std::string& name, const std::string& where) {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (closed_)
    throw Error(where + ": unknown label '" + clip_for_message(name) + "' (labels: " + clip_for_message(joined()) +
                ")");
  std::int64_t next = static_cast<std::int64_t>(names_.size());
  ids_.emplace(name, next);
  names_.push_back(name);
  return next;
}

std::string LabelSet::joined() const {
  std::string out;
  for (const auto& n : names_) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace slimpipe::data
