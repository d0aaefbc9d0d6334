// SQuAD-layout reader. nlohmann::json gives no positions, so a question's line and column are
// recovered by finding its quoted id in the raw text, scanning forward since ids come in order.
#include "slimpipe/data/qa_reader.hpp"

#include <unordered_set>

#include "slimpipe/data/text_file.hpp"
#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::data {

namespace {

// Maps question ids to "path:line:column" by scanning the raw text for `"<id>"`.
class IdLocator {
 public:
  IdLocator(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  std::string where(const std::string& id, std::size_t* line_out = nullptr) {
    const std::string needle = Json(id).dump();  // JSON-quoted, escapes as written by json.dump
    std::size_t at = text_.find(needle, cursor_);
    if (at == std::string::npos) at = text_.find(needle);
    if (at == std::string::npos) {
      if (line_out) *line_out = 0;
      return path_;
    }
    cursor_ = at + needle.size();
    std::size_t line = 1, line_start = 0;
    // Count newlines incrementally from the last position when moving forward.
    if (at >= counted_to_) {
      line = counted_line_, line_start = counted_line_start_;
      for (std::size_t i = counted_to_; i < at; ++i)
        if (text_[i] == '\n') ++line, line_start = i + 1;
      counted_to_ = at, counted_line_ = line, counted_line_start_ = line_start;
    } else {
      for (std::size_t i = 0; i < at; ++i)
        if (text_[i] == '\n') ++line, line_start = i + 1;
    }
    if (line_out) *line_out = line;
    return path_ + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1);
  }

 private:
  const std::string& path_;
  const std::string& text_;
  std::size_t cursor_ = 0;
  std::size_t counted_to_ = 0, counted_line_ = 1, counted_line_start_ = 0;
};

const Json& member(const Json& obj, const char* key, const std::string& where, const char* what) {
  if (!obj.is_object()) throw Error(where + ": expected " + what + " to be a JSON object, found " + obj.type_name());
  auto it = obj.find(key);
  if (it == obj.end()) throw Error(where + ": missing field '" + key + "' in " + what);
  return *it;
}

std::string string_member(const Json& obj, const char* key, const std::string& where, const char* what) {
  const Json& v = member(obj, key, where, what);
  if (!v.is_string())
    throw Error(where + ": field '" + key + "' in " + what + " must be a string, found " + v.type_name());
  return v.get<std::string>();
}

std::string excerpt(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

}  // namespace

std::string verify_answer(const std::string& context, QaAnswer& answer) {
  const std::size_t context_chars = utf8_length(context);
  const std::size_t answer_chars = utf8_length(answer.text);
  if (answer.char_start + answer_chars > context_chars)
    return "answer_start " + std::to_string(answer.char_start) + " + " + std::to_string(answer_chars) +
           " characters is past the end of the context (" + std::to_string(context_chars) + " characters)";
  const std::size_t begin = char_to_byte_offset(context, answer.char_start);
  const std::size_t end = begin + char_to_byte_offset(std::string_view(context).substr(begin), answer_chars);
  if (context.compare(begin, end - begin, answer.text) != 0)
    return "answer text '" + excerpt(answer.text) + "' does not match the context at character " +
           std::to_string(answer.char_start) + " ('" + excerpt(context.substr(begin, end - begin)) + "')";
  answer.byte_start = begin;
  return {};
}

QaDataset read_qa(const std::string& path, const QaReadOptions& options) {
  const std::string text = read_text_file(path, "SQuAD JSON: {\"data\": [{\"paragraphs\": [...]}]}");
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based; turn it into line:column.
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n')
        ++line, col = 1;
      else
        ++col;
    }
    throw Error(path + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": malformed JSON (expected SQuAD JSON)");
  } catch (const Json::out_of_range& e) {
    // A number beyond a double ("1E999"): nlohmann reports it as out_of_range, without a position.
    throw Error(path + ": malformed JSON: " + clip_for_message(e.what()) + " (expected SQuAD JSON)");
  }
  if (!root.is_object() || !root.contains("data") || !root["data"].is_array())
    throw Error(path + ":1: missing field 'data' (expected SQuAD JSON: {\"data\": [{\"paragraphs\": [...]}]})");
  QaDataset out;
  out.source = path;
  IdLocator locate(path, text);
  std::unordered_set<std::string> seen;
  for (const Json& article : root["data"]) {
    std::string title;
    if (article.is_object() && article.contains("title") && article["title"].is_string())
      title = article["title"].get<std::string>();
    const std::string article_where = path + ": article '" + clip_for_message(title) + "'";
    const Json& paragraphs = member(article, "paragraphs", article_where, "an article");
    if (!paragraphs.is_array()) throw Error(article_where + ": field 'paragraphs' must be an array");
    for (const Json& paragraph : paragraphs) {
      const std::string context = string_member(paragraph, "context", article_where, "a paragraph");
      if (!utf8_valid(context)) throw Error(article_where + ": context is not valid UTF-8");
      const Json& qas = member(paragraph, "qas", article_where, "a paragraph");
      if (!qas.is_array()) throw Error(article_where + ": field 'qas' must be an array");
      for (const Json& qa : qas) {
        QaExample ex;
        ex.id = string_member(qa, "id", article_where, "a question");
        const std::string where = locate.where(ex.id, &ex.line);
        const std::string prefix = where + ": question '" + clip_for_message(ex.id) + "': ";
        if (!seen.insert(ex.id).second) throw Error(prefix + "duplicate question id");
        ex.question = string_member(qa, "question", where, "a question");
        ex.title = title;
        ex.context = context;
        const Json* answers = qa.contains("answers") ? &qa["answers"] : nullptr;
        if (answers && !answers->is_array()) throw Error(prefix + "field 'answers' must be an array");
        if (answers) {
          for (const Json& a : *answers) {
            QaAnswer ans;
            ans.text = string_member(a, "text", where, "an answer");
            const Json& start = member(a, "answer_start", where, "an answer");
            if (!start.is_number_integer() || start.get<std::int64_t>() < 0)
              throw Error(prefix + "answer_start must be a non-negative integer, found " +
                          (start.is_primitive() ? clip_for_message(start.dump()) : std::string(start.type_name())));
            ans.char_start = start.get<std::size_t>();
            if (!utf8_valid(ans.text)) throw Error(prefix + "answer text is not valid UTF-8");
            if (std::string problem = verify_answer(context, ans); !problem.empty()) throw Error(prefix + problem);
            ex.answers.push_back(std::move(ans));
          }
        }
        if (ex.answers.empty() && options.require_answers)
          throw Error(prefix + "no answers (expected \"answers\": [{\"text\", \"answer_start\"}])");
        out.examples.push_back(std::move(ex));
      }
    }
  }
  if (out.examples.empty()) throw Error(path + ": no questions");
  return out;
}

}  // namespace slimpipe::data
