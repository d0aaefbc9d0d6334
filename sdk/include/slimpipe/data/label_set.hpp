// Label names <-> dense ids for classification and tagging tasks.
// Either fixed by the user (unknown labels are errors) or discovered in file order.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::data {

class SLIMPIPE_API LabelSet {
 public:
  // An open set: the first time a reader sees a name, it gets the next id.
  LabelSet() = default;
  // A closed set: ids follow `names`; looking up anything else is an error. Throws Error on
  // duplicate or empty names.
  explicit LabelSet(std::vector<std::string> names);

  bool closed() const { return closed_; }
  std::size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::string& name(std::int64_t id) const;  // throws Error when id is out of range

  // -1 when absent.
  std::int64_t find(const std::string& name) const;
  // The id of `name`; an open set adds it, a closed set throws Error with `where` (file:line)
  // prefixed: "dev.tsv:14: unknown label 'positve' (labels: negative, positive)".
  std::int64_t id(const std::string& name, const std::string& where);

  // "negative, positive": for error messages.
  std::string joined() const;

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::int64_t> ids_;
  bool closed_ = false;
};

}  // namespace slimpipe::data
