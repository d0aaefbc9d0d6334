// libFuzzer target: a tokenizer folder (vocab.txt and tokenizer_config.json) through
// slimpipe::text::WordPieceTokenizer::from_directory, then encoding text with the tokenizer it gives.
// Input: two option bytes, then parts separated by "\n=====\n":
//   vocab.txt, tokenizer_config.json (left out when the part is absent or empty), a text, a second text (a pair).
//   byte 0: bits 0-1 truncation (none, longest_first, only_first, only_second), bits 2-3 padding (none, longest,
//           max_length), bit 4 return_overflowing_tokens, bits 5-7 stride; byte 1: max_length (0: the tokenizer's).
// Every encoding must hold ids of the vocabulary, parallel arrays of one length and offsets inside its text.
#include <string>

#include "fuzz_common.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe::text;

[[noreturn]] void fail(const std::string& msg) {
  std::fprintf(stderr, "fuzz_vocab: %s\n", msg.c_str());
  std::abort();
}

void check(const Encoding& e, const WordPieceTokenizer& tok, std::size_t len_a, std::size_t len_b,
           const EncodeOptions& o) {
  const std::size_t n = e.ids.size();
  if (e.token_type_ids.size() != n || e.attention_mask.size() != n || e.special_tokens_mask.size() != n ||
      e.sequence_ids.size() != n || e.offsets.size() != n || e.byte_offsets.size() != n)
    fail("an encoding's arrays differ in length");
  for (std::size_t i = 0; i < n; ++i) {
    if (e.ids[i] < 0 || static_cast<std::size_t>(e.ids[i]) >= tok.vocab_size())
      fail("token id " + std::to_string(e.ids[i]) + " outside the vocabulary of " + std::to_string(tok.vocab_size()));
    const Span& b = e.byte_offsets[i];
    const std::size_t len = e.sequence_ids[i] == 1 ? len_b : len_a;
    if (b.begin > b.end || b.end > len)
      fail("byte offsets [" + std::to_string(b.begin) + ", " + std::to_string(b.end) + ") outside a text of " +
           std::to_string(len) + " bytes");
  }
  if (o.truncation != Truncation::None && o.max_length > 0 && o.padding != Padding::Longest && n > o.max_length)
    fail(std::to_string(n) + " tokens with truncation to max_length " + std::to_string(o.max_length));
  for (const Encoding& w : e.overflowing) check(w, tok, len_a, len_b, o);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned flags = data[0], max_length = data[1];
  const auto parts =
      slimpipe_fuzz::split({reinterpret_cast<const char*>(data) + 2, size - 2}, slimpipe_fuzz::kFileSeparator, 4);
  slimpipe_fuzz::write_file("vocab.txt", parts[0]);
  if (parts.size() > 1 && !parts[1].empty())
    slimpipe_fuzz::write_file("tokenizer_config.json", parts[1]);
  else
    slimpipe_fuzz::remove_file("tokenizer_config.json");
  try {
    const WordPieceTokenizer tok = WordPieceTokenizer::from_directory(slimpipe_fuzz::scratch_dir());
    if (parts.size() < 3) return 0;
    EncodeOptions o;
    o.truncation = static_cast<Truncation>(flags & 3);
    o.padding = static_cast<Padding>(((flags >> 2) & 3) % 3);
    o.return_overflowing_tokens = flags & 16;
    o.stride = flags >> 5;
    o.max_length = max_length;
    // max_length 0 pads to the config's model_max_length: a caller asking for 10^12 tokens of padding gets them (no
    // caller in slimpipe pads without a max_length). The harness leaves such requests out.
    if (o.padding == Padding::MaxLength && o.max_length == 0 && tok.options().model_max_length > 4096)
      o.padding = Padding::Longest;
    const std::string_view a = parts[2];
    (void)tok.tokenize(a);
    if (parts.size() > 3) {
      const Encoding e = tok.encode_pair(a, parts[3], o);
      check(e, tok, a.size(), parts[3].size(), o);
    } else {
      const Encoding e = tok.encode(a, o);
      check(e, tok, a.size(), 0, o);
    }
  } catch (const slimpipe::Error&) {
  } catch (...) {
    slimpipe_fuzz::unexpected_exception("fuzz_vocab");
  }
  return 0;
}
