// libFuzzer target: the dataset readers users point pipelines at. The first byte picks the reader and its options,
// the rest is the file:
//   byte % 8: 0 TSV, 1 CSV, 2 JSON lines, 3 CLUE JSON (read_seq_cls); 4 CoNLL, 5 JSON lines (read_token_cls);
//             6, 7 SQuAD (read_qa)
//   bit 3: no header row (TSV/CSV: text_a in column 0, label in column 1, text_b in column 2 with bit 6);
//          CoNLL: word and tag columns 0 and 1 instead of 0 and -1
//   bit 4: a closed label set (seq_cls: "0", "1", "positive", "negative"; token_cls: O, B-PER, I-PER, B-LOC)
//   bit 5: labels / answers not required (test files)
// Every example the reader returns is checked against what its header promises.
#include <string>

#include "fuzz_common.hpp"
#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/data/token_cls_reader.hpp"
#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"

namespace {

using namespace slimpipe::data;

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "fuzz_data_readers: %s\n", msg.c_str());
  std::abort();
}

void check_label(std::int64_t label, const LabelSet& labels, bool required, std::size_t line) {
  if (label == -1 && !required) return;
  if (label < 0 || static_cast<std::size_t>(label) >= labels.size())
    fail("line " + std::to_string(line) + ": label id " + std::to_string(label) + " outside the label set of " +
         std::to_string(labels.size()));
  (void)labels.name(label);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned sel = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool no_header = sel & 8, closed = sel & 16, optional = sel & 32, pair = sel & 64;
  try {
    switch (sel % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {
        static const char* kExt[] = {"train.tsv", "train.csv", "train.jsonl", "train.json"};
        const auto file = slimpipe_fuzz::write_file(kExt[sel % 8], body);
        SeqClsReadOptions o;
        o.format = sel % 8 == 0   ? SeqClsFormat::Tsv
                   : sel % 8 == 1 ? SeqClsFormat::Csv
                   : sel % 8 == 2 ? SeqClsFormat::JsonLines
                                  : SeqClsFormat::Clue;
        o.header = !no_header;
        if (pair) o.text_b_column = 2;
        if (closed) o.labels = {"0", "1", "positive", "negative"};
        o.require_label = !optional;
        const SeqClsDataset ds = read_seq_cls(file.string(), o);
        for (const auto& e : ds.examples) {
          check_label(e.label, ds.labels, o.require_label, e.line);
          if (!utf8_valid(e.text_a) || (e.text_b && !utf8_valid(*e.text_b)))
            fail("line " + std::to_string(e.line) + ": an example's text is not UTF-8");
        }
        break;
      }
      case 4:
      case 5: {
        const auto file = slimpipe_fuzz::write_file(sel % 8 == 4 ? "train.conll" : "train.jsonl", body);
        TokenClsReadOptions o;
        o.format = sel % 8 == 4 ? TokenClsFormat::Conll : TokenClsFormat::JsonLines;
        if (no_header) o.tag_column = 1;
        if (closed) o.labels = {"O", "B-PER", "I-PER", "B-LOC"};
        const TokenClsDataset ds = read_token_cls(file.string(), o);
        for (const auto& e : ds.examples) {
          if (e.words.size() != e.tags.size())
            fail("line " + std::to_string(e.line) + ": " + std::to_string(e.words.size()) + " words but " +
                 std::to_string(e.tags.size()) + " tags");
          for (auto t : e.tags) check_label(t, ds.labels, true, e.line);
          for (const auto& w : e.words)
            if (!utf8_valid(w)) fail("line " + std::to_string(e.line) + ": a word is not UTF-8");
        }
        break;
      }
      default: {
        const auto file = slimpipe_fuzz::write_file("train.json", body);
        QaReadOptions o;
        o.require_answers = !optional;
        const QaDataset ds = read_qa(file.string(), o);
        for (const auto& e : ds.examples) {
          if (o.require_answers && e.answers.empty()) fail("question '" + e.id + "' without an answer");
          for (const auto& a : e.answers) {
            // The reader promises context.substr(byte_start, text.size()) == text, at char_start.
            if (a.byte_start > e.context.size() || e.context.compare(a.byte_start, a.text.size(), a.text) != 0)
              fail("question '" + e.id + "': answer '" + a.text + "' is not at byte " + std::to_string(a.byte_start));
            if (char_to_byte_offset(e.context, a.char_start) != a.byte_start)
              fail("question '" + e.id + "': answer char_start " + std::to_string(a.char_start) + " and byte_start " +
                   std::to_string(a.byte_start) + " disagree");
          }
        }
        break;
      }
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_data_readers");
  }
  return 0;
}
