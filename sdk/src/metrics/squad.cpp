// Ports of the SQuAD v1.1, CMRC2018 and PaddleNLP QA scoring rules (see squad.hpp for which is
// which). Text is handled as code points so "per character" means what the Python scripts mean.
#include "slimpipe/metrics/squad.hpp"

#include <algorithm>
#include <map>

#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/metrics/python_text.hpp"

namespace slimpipe::metrics {

namespace {

using data::utf8_decode;
using data::utf8_encode;

// Python's string.punctuation.
bool is_ascii_punct(char32_t c) {
  return c < 0x80 && std::u32string_view(U"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(c) != std::u32string_view::npos;
}

// The CMRC2018 script's sp_char list. It also holds "……" (two characters), which never equals
// a single character, so a lone "…" is kept, as in the script.
bool is_cmrc_punct(char32_t c) {
  static const std::u32string_view chars = U"-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』";
  return chars.find(c) != std::u32string_view::npos;
}

std::u32string decode(std::string_view s) {
  if (!data::utf8_valid(s)) throw Error("QA metric: answer text is not valid UTF-8");
  return utf8_decode(s);
}

// re.sub(r'\b(a|an|the)\b', ' ', text): alternatives tried in that order, boundaries judged on
// the original text.
std::u32string remove_articles(const std::u32string& s) {
  std::u32string out;
  auto boundary = [&](std::size_t i) {
    const bool before = i > 0 && py::is_word(s[i - 1]);
    const bool after = i < s.size() && py::is_word(s[i]);
    return before != after;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    bool replaced = false;
    if (boundary(i)) {
      for (std::u32string_view article : {U"a", U"an", U"the"}) {
        if (s.compare(i, article.size(), article) == 0 && boundary(i + article.size())) {
          out.push_back(' ');
          i += article.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

std::u32string join_split(const std::u32string& s) {
  std::u32string out;
  for (const auto& tok : py::split(s)) {
    if (!out.empty()) out.push_back(' ');
    out += tok;
  }
  return out;
}

std::u32string squad_normalize32(std::string_view text) {
  std::u32string s = py::lower(decode(text));
  s.erase(std::remove_if(s.begin(), s.end(), is_ascii_punct), s.end());
  return join_split(remove_articles(s));
}

std::u32string cmrc_remove_punct32(std::string_view text) {
  std::u32string s = py::strip(py::lower(decode(text)));
  s.erase(std::remove_if(s.begin(), s.end(), is_cmrc_punct), s.end());
  return s;
}

// Stand-in for nltk.word_tokenize on the non-CJK runs: whitespace split, then word characters
// (with . or , between digits, as in 3.5 or 1,000) stay together and any other character is a
// token of its own. nltk's contraction and abbreviation rules are not reproduced.
void word_tokenize(const std::u32string& run, std::vector<std::u32string>& out) {
  for (const auto& chunk : py::split(run)) {
    std::size_t i = 0;
    while (i < chunk.size()) {
      if (!py::is_word(chunk[i])) {
        out.emplace_back(1, chunk[i++]);
        continue;
      }
      const std::size_t start = i;
      while (i < chunk.size()) {
        const bool numeric_sep = (chunk[i] == '.' || chunk[i] == ',') && i > start && i + 1 < chunk.size() &&
                                 chunk[i - 1] >= '0' && chunk[i - 1] <= '9' && chunk[i + 1] >= '0' &&
                                 chunk[i + 1] <= '9';
        if (!py::is_word(chunk[i]) && !numeric_sep) break;
        ++i;
      }
      out.emplace_back(chunk.substr(start, i - start));
    }
  }
}

std::vector<std::u32string> cmrc_segments32(std::string_view text, bool remove_punctuation) {
  const std::u32string s = py::strip(py::lower(decode(text)));
  std::vector<std::u32string> segs;
  std::u32string run;
  for (char32_t c : s) {
    if (remove_punctuation && is_cmrc_punct(c)) continue;
    if (py::is_cmrc_cjk(c) || is_cmrc_punct(c)) {
      word_tokenize(run, segs);
      run.clear();
      segs.emplace_back(1, c);
    } else {
      run.push_back(c);
    }
  }
  word_tokenize(run, segs);
  return segs;
}

// Length of the longest common contiguous run of segments (the script's find_lcs).
std::size_t longest_common_run(const std::vector<std::u32string>& a, const std::vector<std::u32string>& b) {
  std::vector<std::size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  std::size_t best = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < b.size(); ++j) {
      cur[j + 1] = a[i] == b[j] ? prev[j] + 1 : 0;
      best = std::max(best, cur[j + 1]);
    }
    std::swap(prev, cur);
  }
  return best;
}

double f1_from(std::size_t same, std::size_t predicted, std::size_t gold) {
  if (same == 0) return 0.0;
  const double p = static_cast<double>(same) / static_cast<double>(predicted);
  const double r = static_cast<double>(same) / static_cast<double>(gold);
  return 2 * p * r / (p + r);
}

// Collections.Counter(a) & Counter(b), summed.
template <typename Seq>
std::size_t bag_overlap(const Seq& a, const Seq& b) {
  std::map<typename Seq::value_type, long> counts;
  for (const auto& x : a) ++counts[x];
  std::size_t same = 0;
  for (const auto& x : b)
    if (auto it = counts.find(x); it != counts.end() && it->second > 0) --it->second, ++same;
  return same;
}

std::u32string paddle_normalize32(std::string_view text) {
  if (text.empty()) return {};
  std::u32string s = py::lower(decode(text));
  s.erase(std::remove_if(s.begin(), s.end(), is_ascii_punct), s.end());
  s = py::strip(py::lower(s));
  s.erase(std::remove_if(s.begin(), s.end(), is_cmrc_punct), s.end());
  return join_split(remove_articles(s));
}

QaAnswerScore score_squad(const std::string& pred, const std::string& gold) {
  const auto p = squad_normalize32(pred), g = squad_normalize32(gold);
  const auto pt = py::split(p), gt = py::split(g);
  return {p == g ? 1.0 : 0.0, f1_from(bag_overlap(pt, gt), pt.size(), gt.size())};
}

QaAnswerScore score_cmrc(const std::string& pred, const std::string& gold) {
  const double em = cmrc_remove_punct32(pred) == cmrc_remove_punct32(gold) ? 1.0 : 0.0;
  const auto ps = cmrc_segments32(pred, true), gs = cmrc_segments32(gold, true);
  return {em, f1_from(longest_common_run(gs, ps), ps.size(), gs.size())};
}

// compute_f1(is_whitespace_splited=False): the Counter runs over the characters of the first
// whitespace token; an empty side scores 1 only when both are empty.
QaAnswerScore score_paddle(const std::string& pred, const std::string& gold) {
  const auto p = paddle_normalize32(pred), g = paddle_normalize32(gold);
  const auto pt = py::split(p), gt = py::split(g);
  const std::u32string pf = pt.empty() ? U"" : pt[0], gf = gt.empty() ? U"" : gt[0];
  double f1;
  if (pf.empty() || gf.empty())
    f1 = pf == gf ? 1.0 : 0.0;
  else
    f1 = f1_from(bag_overlap(pf, gf), pf.size(), gf.size());
  return {p == g ? 1.0 : 0.0, f1};
}

}  // namespace

QaScoring qa_scoring_from_string(const std::string& name) {
  if (name == "squad" || name == "squad_v1.1") return QaScoring::SquadV11;
  if (name == "cmrc" || name == "cmrc2018") return QaScoring::Cmrc2018;
  if (name == "paddlenlp" || name == "paddle") return QaScoring::PaddleNlp;
  throw Error("unknown QA scoring '" + name + "' (expected squad, cmrc or paddlenlp)");
}

QaLanguage qa_language_from_string(const std::string& name) {
  if (name == "en") return QaLanguage::En;
  if (name == "zh") return QaLanguage::Zh;
  throw Error("unknown QA language '" + name + "' (expected en or zh)");
}

QaLanguage detect_qa_language(std::string_view context) {
  std::size_t cjk = 0, other = 0;
  for (char32_t c : decode(context)) {
    if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF))
      ++cjk;
    else if (py::is_word(c))
      ++other;
  }
  return cjk > other ? QaLanguage::Zh : QaLanguage::En;
}

QaScoring default_scoring(QaLanguage language) {
  return language == QaLanguage::Zh ? QaScoring::Cmrc2018 : QaScoring::SquadV11;
}

std::string squad_normalize(std::string_view text) { return utf8_encode(squad_normalize32(text)); }
std::string cmrc_remove_punctuation(std::string_view text) { return utf8_encode(cmrc_remove_punct32(text)); }
std::string paddle_normalize(std::string_view text) { return utf8_encode(paddle_normalize32(text)); }

std::vector<std::string> cmrc_segments(std::string_view text, bool remove_punctuation) {
  std::vector<std::string> out;
  for (const auto& s : cmrc_segments32(text, remove_punctuation)) out.push_back(utf8_encode(s));
  return out;
}

QaAnswerScore score_answer(const std::string& prediction, const std::vector<std::string>& golds, QaScoring scoring) {
  std::vector<std::string> answers = golds;
  if (scoring == QaScoring::PaddleNlp) {
    // get_raw_scores drops gold answers that normalize to nothing; none left means "".
    answers.erase(std::remove_if(answers.begin(), answers.end(),
                                 [](const std::string& a) { return paddle_normalize32(a).empty(); }),
                  answers.end());
    if (answers.empty()) answers.emplace_back();
  }
  if (answers.empty()) throw Error("QA metric: a question without gold answers cannot be scored");
  QaAnswerScore best;
  for (const auto& gold : answers) {
    QaAnswerScore s = scoring == QaScoring::SquadV11   ? score_squad(prediction, gold)
                      : scoring == QaScoring::Cmrc2018 ? score_cmrc(prediction, gold)
                                                       : score_paddle(prediction, gold);
    best.exact = std::max(best.exact, s.exact);
    best.f1 = std::max(best.f1, s.f1);
  }
  return best;
}

QaAnswerScore QaScorer::add(const std::string& prediction, const std::vector<std::string>& golds) {
  QaAnswerScore s = score_answer(prediction, golds, scoring_);
  ++count_;
  exact_sum_ += s.exact;
  f1_sum_ += s.f1;
  return s;
}

}  // namespace slimpipe::metrics
