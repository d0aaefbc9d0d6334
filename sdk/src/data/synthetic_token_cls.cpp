// Synthetic NER: template sentences whose slots are filled from PER/LOC/ORG/MISC gazetteers.
// Ambiguous words (jordan: PER or LOC, apple: ORG or fruit) force the model to read context.
#include "slimpipe/data/synthetic_token_cls.hpp"

#include <map>
#include <sstream>

#include "slimpipe/data/random.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::data {

namespace {

const std::vector<std::string> kLabels = {"O",     "B-PER", "I-PER",  "B-LOC", "I-LOC",
                                          "B-ORG", "I-ORG", "B-MISC", "I-MISC"};

// Slot kinds; EVENT and NATIONALITY are both tagged MISC, FRUIT is tagged O.
enum Slot { PER, LOC, ORG, EVENT, NATIONALITY, FRUIT, AMBIGUOUS, kSlotCount };

const std::vector<std::string> kFirstNames = {"anna",  "maria", "john",  "peter", "laura", "david",
                                              "sofia", "omar",  "elena", "li",    "paul",  "nina"};
const std::vector<std::string> kLastNames = {"smith", "garcia", "chen", "novak", "brown", "khan", "rossi", "weber"};
const std::vector<std::string> kPlaces = {"paris",  "berlin",   "tokyo",     "cairo",        "lima",      "oslo",
                                          "madrid", "new york", "san diego", "buenos aires", "hong kong", "cape town"};
const std::vector<std::string> kCompanies = {"acme",        "globex",     "initech",
                                             "umbrella",    "north bank", "blue sky airlines",
                                             "union press", "data works", "stark industries"};
const std::vector<std::string> kEvents = {"olympic games", "world cup", "nobel prize", "jazz festival", "film awards"};
const std::vector<std::string> kNationalities = {"french", "german", "japanese", "brazilian", "kenyan"};
const std::vector<std::string> kFruits = {"banana", "pear", "peach"};
// Words (tagged O) that options.context_gap puts between a slot and the word before it. All are words
// of the seq_cls generator, so the synthetic vocabulary is unchanged; none is part of an entity.
const std::vector<std::string> kFillers = {"very", "really", "truly", "old", "quiet", "simple", "familiar", "lovely"};

// Words that fill slots of several kinds; the slot (i.e. the context) decides the tag.
const std::map<std::string, std::vector<Slot>> kAmbiguous = {
    {"jordan", {PER, LOC}},   {"washington", {PER, LOC}}, {"victoria", {PER, LOC}},
    {"florence", {PER, LOC}}, {"georgia", {PER, LOC}},    {"chelsea", {PER, LOC, ORG}},
    {"amazon", {ORG, LOC}},   {"apple", {ORG, FRUIT}},    {"orange", {ORG, FRUIT}},
};

// {x} marks a slot: p = PER, l = LOC, o = ORG, e = EVENT, n = NATIONALITY, f = FRUIT.
const std::vector<std::string> kTemplates = {
    "{p} lives in {l} .",
    "{p} works at {o} .",
    "{p} flew from {l} to {l} .",
    "{o} opened an office in {l} .",
    "{p} joined {o} last year .",
    "{p} won the {e} in {l} .",
    "the {n} team beat {o} in the final .",
    "{p} met {p} at {o} .",
    "{p} said {o} will buy {o} .",
    "{p} ate the {f} in {l} .",
    "shares of {o} rose in {l} .",
    "{p} watched the {e} with {p} .",
    "{p} visited {l} and {l} .",
    "a {n} fan from {l} called {p} .",
    "{p} sold {f} juice to {o} .",
};
// Context-free on purpose: the tag of the ambiguous word is drawn at random, so even a perfect
// model is wrong on some of these (a ceiling below 100% F1).
const std::vector<std::string> kOpaqueTemplates = {"{a} is great .", "{a} was mentioned again ."};

std::vector<std::string> ambiguous_for(Slot slot) {
  std::vector<std::string> out;
  for (const auto& [word, slots] : kAmbiguous)
    for (Slot s : slots)
      if (s == slot) out.push_back(word);
  return out;
}

const char* tag_type(Slot slot) {
  switch (slot) {
    case PER:
      return "PER";
    case LOC:
      return "LOC";
    case ORG:
      return "ORG";
    case EVENT:
    case NATIONALITY:
      return "MISC";
    default:
      return nullptr;  // FRUIT: not an entity
  }
}

// `context_rate`: the probability that a slot with ambiguous candidates takes one of them.
std::string fill(Slot slot, double context_rate, SplitMix64& rng) {
  static const std::vector<std::vector<std::string>> ambiguous = [] {
    std::vector<std::vector<std::string>> a;
    for (int s = 0; s < kSlotCount; ++s) a.push_back(ambiguous_for(static_cast<Slot>(s)));
    return a;
  }();
  if (!ambiguous[slot].empty() && rng.chance(context_rate)) {
    std::string word = rng.pick(ambiguous[slot]);
    if (slot == PER && rng.chance(0.3)) word += " " + rng.pick(kLastNames);
    return word;
  }
  switch (slot) {
    case PER: {
      if (!rng.chance(0.5)) return rng.pick(kFirstNames);
      // Two draws in one expression would be in an unspecified order (gcc and clang differ): the last name is
      // drawn first, as the gcc builds that pinned the data did.
      const std::string& last = rng.pick(kLastNames);
      return rng.pick(kFirstNames) + " " + last;
    }
    case LOC:
      return rng.pick(kPlaces);
    case ORG:
      return rng.pick(kCompanies);
    case EVENT:
      return rng.pick(kEvents);
    case NATIONALITY:
      return rng.pick(kNationalities);
    default:
      return rng.pick(kFruits);
  }
}

Slot slot_of(char c) {
  switch (c) {
    case 'p':
      return PER;
    case 'l':
      return LOC;
    case 'o':
      return ORG;
    case 'e':
      return EVENT;
    case 'n':
      return NATIONALITY;
    case 'f':
      return FRUIT;
    default:
      return AMBIGUOUS;
  }
}

void append_template(const std::string& tmpl, const SyntheticTokenClsOptions& options, SplitMix64& rng,
                     const LabelSet& labels, TokenClsExample& ex) {
  std::istringstream in(tmpl);
  std::string piece;
  for (bool first_piece = true; in >> piece; first_piece = false) {
    if (piece.size() != 3 || piece[0] != '{') {
      ex.words.push_back(piece);
      ex.tags.push_back(labels.find("O"));
      continue;
    }
    // No draw at all when the gap is 0: the original data stays as it was.
    if (options.context_gap > 0 && !first_piece) {
      const auto n = rng.below(static_cast<std::uint64_t>(options.context_gap) + 1);
      for (std::uint64_t i = 0; i < n; ++i) {
        ex.words.push_back(rng.pick(kFillers));
        ex.tags.push_back(labels.find("O"));
      }
    }
    Slot slot = slot_of(piece[1]);
    std::string phrase;
    if (slot == AMBIGUOUS) {
      auto it = kAmbiguous.begin();
      std::advance(it, static_cast<long>(rng.below(kAmbiguous.size())));
      phrase = it->first;
      slot = rng.pick(it->second);
    } else {
      phrase = fill(slot, options.context_rate, rng);
    }
    const char* type = tag_type(slot);
    std::istringstream words(phrase);
    std::string w;
    for (bool first = true; words >> w; first = false) {
      ex.words.push_back(w);
      ex.tags.push_back(type ? labels.find(std::string(first ? "B-" : "I-") + type) : labels.find("O"));
    }
  }
}

}  // namespace

TokenClsDataset synthetic_token_cls(std::size_t size, std::uint64_t seed) {
  return synthetic_token_cls(size, seed, SyntheticTokenClsOptions{});
}

TokenClsDataset synthetic_token_cls(std::size_t size, std::uint64_t seed, const SyntheticTokenClsOptions& options) {
  std::ostringstream rate_text;
  rate_text << options.context_rate;
  if (!(options.context_rate >= 0.0 && options.context_rate <= 1.0))
    throw Error("synthetic_token_cls: context_rate must be in [0, 1], got " + rate_text.str());
  if (options.context_gap < 0 || options.context_gap > SyntheticTokenClsOptions::kMaxContextGap)
    throw Error("synthetic_token_cls: context_gap must be in [0, " +
                std::to_string(SyntheticTokenClsOptions::kMaxContextGap) + "], got " +
                std::to_string(options.context_gap));
  TokenClsDataset data;
  data.source = "synthetic(task=token_cls,size=" + std::to_string(size) + ",seed=" + std::to_string(seed);
  // Options at their defaults are left out, so the description of the original data is unchanged.
  const SyntheticTokenClsOptions defaults;
  if (options.context_rate != defaults.context_rate) data.source += ",context_rate=" + rate_text.str();
  if (options.context_gap != defaults.context_gap) data.source += ",context_gap=" + std::to_string(options.context_gap);
  data.source += ")";
  data.labels = LabelSet(kLabels);
  SplitMix64 rng(seed ^ 0x70C3E5ULL);
  data.examples.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    TokenClsExample ex;
    append_template(rng.pick(kTemplates), options, rng, data.labels, ex);
    if (rng.chance(0.4)) append_template(rng.pick(kTemplates), options, rng, data.labels, ex);
    if (rng.chance(0.1)) append_template(rng.pick(kOpaqueTemplates), options, rng, data.labels, ex);
    data.examples.push_back(std::move(ex));
  }
  return data;
}

std::vector<std::string> synthetic_token_cls_words() {
  std::vector<std::string> phrases;
  for (const auto* table :
       {&kFirstNames, &kLastNames, &kPlaces, &kCompanies, &kEvents, &kNationalities, &kFruits, &kFillers})
    phrases.insert(phrases.end(), table->begin(), table->end());
  for (const auto& [word, slots] : kAmbiguous) phrases.push_back(word);
  for (const auto* table : {&kTemplates, &kOpaqueTemplates})
    for (const auto& t : *table) {
      std::istringstream in(t);
      std::string piece;
      while (in >> piece)
        if (piece[0] != '{') phrases.push_back(piece);
    }
  return unique_words(phrases);
}

}  // namespace slimpipe::data
