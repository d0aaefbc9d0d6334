// Chunk extraction ported rule for rule from seqeval 1.2: get_entities (lenient) and
// Tokens.entities with the IOB2/IOBES schemes (strict). Comments cite the seqeval behaviour kept.
#include "slimpipe/metrics/chunk.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <tuple>

#include "slimpipe/error.hpp"

namespace slimpipe::metrics {

ChunkMode chunk_mode_from_string(const std::string& name) {
  if (name == "lenient" || name == "default") return ChunkMode::Lenient;
  if (name == "strict_iob2" || name == "strict_bio") return ChunkMode::StrictIob2;
  if (name == "strict_iobes" || name == "strict_bioes") return ChunkMode::StrictIobes;
  throw Error("unknown chunk mode '" + name + "' (expected lenient, strict_iob2 or strict_iobes)");
}

bool Chunk::operator<(const Chunk& o) const { return std::tie(begin, end, type) < std::tie(o.begin, o.end, o.type); }

double ChunkScore::precision() const {
  return predicted ? static_cast<double>(correct) / static_cast<double>(predicted) : 0.0;
}
double ChunkScore::recall() const { return gold ? static_cast<double>(correct) / static_cast<double>(gold) : 0.0; }
double ChunkScore::f1() const {
  const double p = precision(), r = recall();
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

namespace {

struct Tag {
  char prefix;       // O, B, I, E or S
  std::string type;  // "_" when there is none (O, bare B), as seqeval writes it
};

Tag parse_tag(const std::string& tag) {
  if (tag == "O" || tag == "B" || tag == "I" || tag == "E" || tag == "S") return {tag[0], "_"};
  if (tag.size() >= 2 && tag[1] == '-' && std::string("BIES").find(tag[0]) != std::string::npos) {
    std::string type = tag.substr(2);
    return {tag[0], type.empty() ? "_" : type};
  }
  throw Error("invalid tag '" + tag + "' (expected O or B-, I-, E-, S- followed by a type)");
}

// seqeval end_of_chunk: did a chunk end between the previous and the current token?
bool end_of_chunk(const Tag& prev, const Tag& cur) {
  const char p = prev.prefix, t = cur.prefix;
  if (p == 'E' || p == 'S') return true;
  if ((p == 'B' || p == 'I') && (t == 'B' || t == 'S' || t == 'O')) return true;
  return p != 'O' && prev.type != cur.type;  // a type switch (I-PER I-LOC) ends the chunk
}

// seqeval start_of_chunk: does a chunk start at the current token?
bool start_of_chunk(const Tag& prev, const Tag& cur) {
  const char p = prev.prefix, t = cur.prefix;
  if (t == 'B' || t == 'S') return true;
  if ((p == 'E' || p == 'S' || p == 'O') && (t == 'E' || t == 'I')) return true;  // I- after O starts one
  return t != 'O' && prev.type != cur.type;
}

std::vector<Chunk> lenient_chunks(const std::vector<std::string>& tags) {
  std::vector<Chunk> chunks;
  Tag prev{'O', "_"};
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= tags.size(); ++i) {  // a virtual trailing O closes the last chunk
    const Tag cur = i < tags.size() ? parse_tag(tags[i]) : Tag{'O', "_"};
    if (end_of_chunk(prev, cur)) chunks.push_back({prev.type, begin, i});
    if (start_of_chunk(prev, cur)) begin = i;
    prev = cur;
  }
  return chunks;
}

// seqeval scheme patterns: (previous prefix set, current prefix set, tag condition).
enum class TypeCond { Any, Same, Diff };
struct Pattern {
  const char* prev;
  const char* cur;
  TypeCond cond;
};
struct Scheme {
  const char* allowed;
  std::vector<Pattern> start, inside, end;
};

const Scheme kIob2 = {"IOB",
                      {{"IOBES", "B", TypeCond::Any}},
                      {{"B", "I", TypeCond::Same}, {"I", "I", TypeCond::Same}},
                      {{"I", "O", TypeCond::Any},
                       {"I", "I", TypeCond::Diff},
                       {"I", "B", TypeCond::Any},
                       {"B", "O", TypeCond::Any},
                       {"B", "I", TypeCond::Diff},
                       {"B", "B", TypeCond::Any}}};
const Scheme kIobes = {
    "IOBES",
    {{"IOBES", "B", TypeCond::Any}, {"IOBES", "S", TypeCond::Any}},
    {{"B", "I", TypeCond::Same}, {"B", "E", TypeCond::Same}, {"I", "I", TypeCond::Same}, {"I", "E", TypeCond::Same}},
    {{"S", "IOBES", TypeCond::Any}, {"E", "IOBES", TypeCond::Any}}};

bool matches(const std::vector<Pattern>& patterns, const Tag& prev, const Tag& cur) {
  for (const Pattern& p : patterns) {
    if (!std::strchr(p.prev, prev.prefix) || !std::strchr(p.cur, cur.prefix)) continue;
    if (p.cond == TypeCond::Any || (p.cond == TypeCond::Same) == (prev.type == cur.type)) return true;
  }
  return false;
}

// seqeval Token.tag strips the delimiter from both ends: "B-PER" -> "PER", "O" -> "_".
Tag parse_strict(const std::string& tag, const Scheme& scheme, const char* scheme_name) {
  if (tag.empty() || !std::strchr(scheme.allowed, tag[0]))
    throw Error("invalid tag '" + tag + "' for scheme " + scheme_name +
                " (allowed prefixes: " + std::string(scheme.allowed) + ")");
  std::string type = tag.substr(1);
  const auto first = type.find_first_not_of('-');
  type = first == std::string::npos ? "" : type.substr(first, type.find_last_not_of('-') - first + 1);
  return {tag[0], type.empty() ? "_" : type};
}

std::vector<Chunk> strict_chunks(const std::vector<std::string>& raw, const Scheme& scheme, const char* name) {
  std::vector<Tag> tags;
  tags.reserve(raw.size() + 1);
  for (const auto& t : raw) tags.push_back(parse_strict(t, scheme, name));
  tags.push_back({'O', "_"});  // seqeval appends an O token
  std::vector<Chunk> chunks;
  Tag prev{'O', "_"};
  std::size_t i = 0;
  while (i < tags.size()) {
    if (matches(scheme.start, prev, tags[i])) {
      std::size_t end = i + 1;
      for (Tag last = tags[i]; end < tags.size() && matches(scheme.inside, last, tags[end]); ++end) last = tags[end];
      // Only a chunk whose last token is a proper end counts: IOBES B-X I-X O is dropped.
      if (end < tags.size() && matches(scheme.end, tags[end - 1], tags[end])) chunks.push_back({tags[i].type, i, end});
      i = end;
    } else {
      ++i;
    }
    prev = tags[i - 1];
  }
  return chunks;
}

}  // namespace

std::vector<Chunk> extract_chunks(const std::vector<std::string>& tags, ChunkMode mode) {
  switch (mode) {
    case ChunkMode::Lenient:
      return lenient_chunks(tags);
    case ChunkMode::StrictIob2:
      return strict_chunks(tags, kIob2, "IOB2");
    case ChunkMode::StrictIobes:
      return strict_chunks(tags, kIobes, "IOBES");
  }
  return {};
}

void ChunkF1::add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted) {
  if (gold.size() != predicted.size())
    throw Error("chunk F1: " + std::to_string(gold.size()) + " gold tags but " + std::to_string(predicted.size()) +
                " predicted tags in one sentence");
  auto g = extract_chunks(gold, mode_);
  auto p = extract_chunks(predicted, mode_);
  std::sort(g.begin(), g.end());
  std::sort(p.begin(), p.end());
  std::vector<Chunk> both;
  std::set_intersection(g.begin(), g.end(), p.begin(), p.end(), std::back_inserter(both));
  micro_.gold += g.size();
  micro_.predicted += p.size();
  micro_.correct += both.size();
  for (const auto& c : g) ++per_type_[c.type].gold;
  for (const auto& c : p) ++per_type_[c.type].predicted;
  for (const auto& c : both) ++per_type_[c.type].correct;
}

void ChunkF1::add(const std::vector<std::int64_t>& gold, const std::vector<std::int64_t>& predicted,
                  const std::vector<std::string>& names) {
  const auto n = static_cast<std::int64_t>(names.size());
  std::vector<std::string> g, p;
  g.reserve(gold.size());
  for (auto id : gold) {
    if (id < 0 || id >= n)
      throw Error("chunk F1: gold tag id " + std::to_string(id) + " out of range (" + std::to_string(n) + " tags)");
    g.push_back(names[static_cast<std::size_t>(id)]);
  }
  p.reserve(predicted.size());
  for (auto id : predicted) p.push_back(id >= 0 && id < n ? names[static_cast<std::size_t>(id)] : "O");
  add(g, p);
}

}  // namespace slimpipe::metrics
