// Token-classification readers: CoNLL column files and JSON lines with parallel token/tag arrays.
// A ragged CoNLL line or a length mismatch is an error: silently skipping would shift every tag.
#include "slimpipe/data/token_cls_reader.hpp"

#include "slimpipe/data/text_file.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::data {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (true) {
    i = s.find_first_not_of(" \t", i);
    if (i == std::string_view::npos) break;
    std::size_t end = s.find_first_of(" \t", i);
    out.emplace_back(s.substr(i, end == std::string_view::npos ? end : end - i));
    if (end == std::string_view::npos) break;
    i = end;
  }
  return out;
}

TokenClsDataset read_conll(const std::string& path, const TokenClsReadOptions& o) {
  const std::string text = read_text_file(path, "one word per line with its tag, blank line between sentences");
  TokenClsDataset data;
  data.source = path;
  if (!o.labels.empty()) data.labels = LabelSet(o.labels);
  std::size_t columns = 0, columns_line = 0;
  std::size_t word_col = 0, tag_col = 0;
  TokenClsExample current;
  auto flush = [&] {
    if (!current.words.empty()) data.examples.push_back(std::move(current));
    current = TokenClsExample{};
  };
  for (const TextLine& line : split_lines(text)) {
    const auto cols = split_whitespace(line.text);
    if (cols.empty()) {
      flush();
      continue;
    }
    if (cols[0] == "-DOCSTART-") {
      flush();
      continue;
    }
    const std::string where = path + ":" + std::to_string(line.number);
    if (columns == 0) {
      columns = cols.size(), columns_line = line.number;
      const long long n = static_cast<long long>(columns);
      const long long w = o.word_column, t = o.tag_column < 0 ? n + o.tag_column : o.tag_column;
      if (w < 0 || w >= n || t < 0 || t >= n)
        throw Error(where + ": expected word column " + std::to_string(o.word_column) + " and tag column " +
                    std::to_string(o.tag_column) + ", but the line has " + std::to_string(columns) + " columns");
      if (columns < 2) throw Error(where + ": expected at least 2 columns (word and tag), found 1");
      word_col = static_cast<std::size_t>(w), tag_col = static_cast<std::size_t>(t);
    } else if (cols.size() != columns) {
      throw Error(where + ": expected " + std::to_string(columns) + " columns as on line " +
                  std::to_string(columns_line) + ", found " + std::to_string(cols.size()));
    }
    if (current.words.empty()) current.line = line.number;
    current.words.push_back(cols[word_col]);
    current.tags.push_back(data.labels.id(cols[tag_col], where));
  }
  flush();
  if (data.examples.empty()) throw Error(path + ": no sentences (only -DOCSTART- or blank lines)");
  return data;
}

TokenClsDataset read_json_lines(const std::string& path, const TokenClsReadOptions& o) {
  const std::string text = read_text_file(path, "one JSON object per line with tokens and labels");
  TokenClsDataset data;
  data.source = path;
  if (!o.labels.empty()) data.labels = LabelSet(o.labels);
  const std::vector<std::string> tag_names =
      o.tags_field.empty() ? std::vector<std::string>{"labels", "ner_tags"} : std::vector<std::string>{o.tags_field};
  for (const TextLine& line : split_lines(text)) {
    if (line.text.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line.number);
    Json obj = Json::parse(line.text.begin(), line.text.end(), nullptr, false);
    if (obj.is_discarded()) throw Error(where + ": malformed JSON (expected one JSON object per line)");
    if (!obj.is_object()) throw Error(where + ": expected a JSON object, found " + obj.type_name());
    auto tokens = obj.find(o.tokens_field);
    if (tokens == obj.end()) throw Error(where + ": missing field '" + o.tokens_field + "'");
    auto tags = obj.end();
    for (const auto& n : tag_names)
      if ((tags = obj.find(n)) != obj.end()) break;
    if (tags == obj.end())
      throw Error(where + ": missing field '" + tag_names[0] + "'" +
                  (tag_names.size() > 1 ? " (or '" + tag_names[1] + "')" : ""));
    if (!tokens->is_array() || !tags->is_array())
      throw Error(where + ": fields '" + o.tokens_field + "' and '" + tags.key() + "' must be arrays");
    if (tokens->size() != tags->size())
      throw Error(where + ": " + std::to_string(tokens->size()) + " tokens but " + std::to_string(tags->size()) +
                  " labels (expected one label per token)");
    TokenClsExample ex;
    ex.line = line.number;
    for (std::size_t i = 0; i < tokens->size(); ++i) {
      const Json& w = (*tokens)[i];
      const Json& t = (*tags)[i];
      if (!w.is_string())
        throw Error(where + ": token " + std::to_string(i) + " must be a string, found " + w.type_name());
      ex.words.push_back(w.get<std::string>());
      if (t.is_string()) {
        ex.tags.push_back(data.labels.id(t.get<std::string>(), where));
      } else if (t.is_number_integer()) {
        if (!data.labels.closed())
          throw Error(where + ": integer tags need the tag names (set labels = [\"O\", \"B-PER\", ...])");
        const auto id = t.get<std::int64_t>();
        if (id < 0 || static_cast<std::size_t>(id) >= data.labels.size())
          throw Error(where + ": tag id " + std::to_string(id) + " out of range (" +
                      std::to_string(data.labels.size()) + " labels: " + data.labels.joined() + ")");
        ex.tags.push_back(id);
      } else {
        throw Error(where + ": tag " + std::to_string(i) + " must be a string or an integer, found " + t.type_name());
      }
    }
    if (ex.words.empty()) throw Error(where + ": empty sentence (expected at least one token)");
    data.examples.push_back(std::move(ex));
  }
  if (data.examples.empty()) throw Error(path + ": no sentences");
  return data;
}

}  // namespace

TokenClsFormat token_cls_format_from_string(const std::string& name) {
  if (name == "auto") return TokenClsFormat::Auto;
  if (name == "conll") return TokenClsFormat::Conll;
  if (name == "jsonl" || name == "json_lines") return TokenClsFormat::JsonLines;
  throw Error("unknown token_cls format '" + name + "' (expected auto, conll or jsonl)");
}

TokenClsDataset read_token_cls(const std::string& path, const TokenClsReadOptions& options) {
  TokenClsFormat f = options.format;
  if (f == TokenClsFormat::Auto)
    f = (ends_with(path, ".jsonl") || ends_with(path, ".json")) ? TokenClsFormat::JsonLines : TokenClsFormat::Conll;
  return f == TokenClsFormat::Conll ? read_conll(path, options) : read_json_lines(path, options);
}

}  // namespace slimpipe::data
