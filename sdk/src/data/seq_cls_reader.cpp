// Sequence-classification readers: delimited files (TSV/CSV) and JSON-per-line files.
// Column and field names default to the common GLUE/CLUE spellings so most files need no options.
#include "slimpipe/data/seq_cls_reader.hpp"

#include <algorithm>

#include "slimpipe/data/text_file.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::data {

namespace {

const std::vector<std::string> kTextACandidates = {"text", "sentence", "sentence1", "text_a", "query"};
const std::vector<std::string> kTextBCandidates = {"text_b", "sentence2"};
const std::vector<std::string> kLabelCandidates = {"label"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SeqClsFormat resolve_format(const std::string& path, SeqClsFormat format) {
  if (format != SeqClsFormat::Auto) return format;
  if (ends_with(path, ".tsv") || ends_with(path, ".txt")) return SeqClsFormat::Tsv;
  if (ends_with(path, ".csv")) return SeqClsFormat::Csv;
  if (ends_with(path, ".jsonl") || ends_with(path, ".json")) return SeqClsFormat::JsonLines;
  throw Error(path + ": cannot tell the format from the extension (set format = tsv, csv, jsonl or clue)");
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// The configured name, or the candidates to try in order.
std::vector<std::string> names_for(const std::string& configured, const std::vector<std::string>& defaults) {
  return configured.empty() ? defaults : std::vector<std::string>{configured};
}

class Builder {
 public:
  Builder(const std::string& path, const SeqClsReadOptions& options) : options_(options) {
    data_.source = path;
    if (!options.labels.empty()) data_.labels = LabelSet(options.labels);
  }
  void add(std::size_t line, std::string text_a, std::optional<std::string> text_b,
           const std::optional<std::string>& label) {
    SeqClsExample ex{std::move(text_a), std::move(text_b), -1, line};
    if (label) ex.label = data_.labels.id(*label, data_.source + ":" + std::to_string(line));
    data_.examples.push_back(std::move(ex));
  }
  SeqClsDataset finish(const std::string& what) {
    if (data_.examples.empty()) throw Error(data_.source + ": no examples (" + what + ")");
    return std::move(data_);
  }

 private:
  const SeqClsReadOptions& options_;
  SeqClsDataset data_;
};

SeqClsDataset read_delimited(const std::string& path, const std::string& text, bool csv, const SeqClsReadOptions& o) {
  const char delimiter = o.delimiter ? o.delimiter : (csv ? ',' : '\t');
  const auto records = parse_delimited(text, delimiter, csv, path);
  int a = o.text_a_column, b = o.text_b_column, l = o.label_column;
  std::size_t first = 0;
  // Text whose only records are blank (a lone "" in CSV): no header row to read either.
  if (records.empty()) throw Error(path + ": no examples (no rows)");
  if (o.header) {
    const auto& head = records.at(0).fields;
    auto find = [&](const std::vector<std::string>& names, bool required, const char* role) {
      for (const auto& n : names) {
        auto it = std::find(head.begin(), head.end(), n);
        if (it != head.end()) return static_cast<int>(it - head.begin());
      }
      if (required)
        throw Error(path + ":" + std::to_string(records[0].line) + ": header has no " + role + " column " +
                    quoted_list(names) + " (columns: " + clip_for_message(quoted_list(head)) + ")");
      return -1;
    };
    a = find(names_for(o.text_a_field, kTextACandidates), true, "text");
    b = find(names_for(o.text_b_field, kTextBCandidates), !o.text_b_field.empty(), "second-text");
    l = find(names_for(o.label_field, kLabelCandidates), o.require_label, "label");
    first = 1;
  }
  const int needed = std::max({a, b, o.require_label ? l : -1}) + 1;
  Builder out(path, o);
  for (std::size_t r = first; r < records.size(); ++r) {
    const auto& f = records[r].fields;
    const int have = static_cast<int>(f.size());
    if (have < needed)
      throw Error(path + ":" + std::to_string(records[r].line) + ": expected at least " + std::to_string(needed) + " " +
                  (csv ? "comma" : "tab") + "-separated columns, found " + std::to_string(have));
    std::optional<std::string> text_b;
    if (b >= 0) text_b = f[b];
    std::optional<std::string> label;
    if (l >= 0 && l < have) label = f[l];
    out.add(records[r].line, f[a], std::move(text_b), label);
  }
  return out.finish(o.header ? "only a header row" : "no rows");
}

const Json* find_field(const Json& obj, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto it = obj.find(n);
    if (it != obj.end()) return &*it;
  }
  return nullptr;
}

SeqClsDataset read_json_lines(const std::string& path, const std::string& text, const SeqClsReadOptions& o) {
  const auto a_names = names_for(o.text_a_field, kTextACandidates);
  const auto b_names = names_for(o.text_b_field, kTextBCandidates);
  const auto l_names = names_for(o.label_field, kLabelCandidates);
  Builder out(path, o);
  for (const TextLine& line : split_lines(text)) {
    if (line.text.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line.number);
    Json obj = Json::parse(line.text.begin(), line.text.end(), nullptr, false);
    if (obj.is_discarded()) throw Error(where + ": malformed JSON (expected one JSON object per line)");
    if (!obj.is_object()) throw Error(where + ": expected a JSON object, found " + obj.type_name());
    auto text_field = [&](const std::vector<std::string>& names, bool required) -> std::optional<std::string> {
      const Json* v = find_field(obj, names);
      if (!v) {
        if (required) throw Error(where + ": missing field " + quoted_list(names));
        return std::nullopt;
      }
      if (!v->is_string()) throw Error(where + ": field '" + names[0] + "' must be a string, found " + v->type_name());
      return v->get<std::string>();
    };
    auto text_a = text_field(a_names, true);
    auto text_b = text_field(b_names, !o.text_b_field.empty());
    std::optional<std::string> label;
    if (const Json* v = find_field(obj, l_names)) {
      if (v->is_string())
        label = v->get<std::string>();
      else if (v->is_number_integer() || v->is_boolean())
        label = v->dump();
      else
        throw Error(where + ": field 'label' must be a string or an integer, found " + v->type_name());
    } else if (o.require_label) {
      throw Error(where + ": missing field " + quoted_list(l_names));
    }
    out.add(line.number, std::move(*text_a), std::move(text_b), label);
  }
  return out.finish("no JSON objects");
}

}  // namespace

SeqClsFormat seq_cls_format_from_string(const std::string& name) {
  if (name == "auto") return SeqClsFormat::Auto;
  if (name == "tsv") return SeqClsFormat::Tsv;
  if (name == "csv") return SeqClsFormat::Csv;
  if (name == "jsonl" || name == "json_lines") return SeqClsFormat::JsonLines;
  if (name == "clue") return SeqClsFormat::Clue;
  throw Error("unknown seq_cls format '" + name + "' (expected auto, tsv, csv, jsonl or clue)");
}

SeqClsDataset read_seq_cls(const std::string& path, const SeqClsReadOptions& options) {
  const SeqClsFormat format = resolve_format(path, options.format);
  switch (format) {
    case SeqClsFormat::Tsv:
      return read_delimited(path, read_text_file(path, "tab-separated rows: text, label"), false, options);
    case SeqClsFormat::Csv:
      return read_delimited(path, read_text_file(path, "comma-separated rows: text, label"), true, options);
    case SeqClsFormat::JsonLines:
    case SeqClsFormat::Clue:
      return read_json_lines(path, read_text_file(path, "one JSON object per line"), options);
    case SeqClsFormat::Auto:
      break;
  }
  throw Error(path + ": unsupported format");
}

}  // namespace slimpipe::data
