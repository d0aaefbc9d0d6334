// Synthetic sentiment: the label depends on negation scope, intensifiers and clause order
// ("but"), so a bag of words cannot solve it but a small transformer can.
#include <sstream>

#include "slimpipe/data/random.hpp"
#include "slimpipe/data/synthetic.hpp"

namespace slimpipe::data {

namespace {

const std::vector<std::string> kSubjects = {"the movie",  "the film",     "the plot",   "the acting",
                                            "the music",  "the story",    "the ending", "the cast",
                                            "the script", "the dialogue", "the pacing", "the humor"};
const std::vector<std::string> kVerbs = {"is", "was", "feels", "seems"};
const std::vector<std::string> kPositive = {"good",   "great",      "excellent", "wonderful", "charming",  "brilliant",
                                            "superb", "delightful", "clever",    "moving",    "beautiful", "funny",
                                            "fresh",  "solid",      "gripping",  "lovely"};
const std::vector<std::string> kNegative = {"bad",   "awful",  "boring",  "terrible", "dull", "weak",
                                            "messy", "clumsy", "tedious", "bland",    "poor", "silly",
                                            "flat",  "stale",  "painful", "lazy"};
// Polarity 0: they make a clause count for nothing, which is what produces neutral sentences.
const std::vector<std::string> kNeutral = {"long", "short", "loud",   "quiet",    "old",
                                           "new",  "slow",  "simple", "familiar", "french"};
const std::vector<std::string> kIntensifiers = {"very", "really", "extremely", "truly", "remarkably"};
const std::vector<std::string> kNegators = {"not", "never", "hardly"};
const std::vector<std::string> kOpeners = {"i think", "honestly ,", "overall ,", "in short ,", "to be fair ,"};
const std::vector<std::string> kClosers = {"at times", "in places", "to me", "for a while", "most of the time"};

const std::vector<std::string> kLabels = {"negative", "neutral", "positive"};

struct Clause {
  std::string text;
  int value = 0;  // polarity x (2 if intensified) x (-1 if negated)
};

Clause make_clause(SplitMix64& rng) {
  Clause c;
  std::ostringstream s;
  s << rng.pick(kSubjects) << ' ' << rng.pick(kVerbs);
  const bool negated = rng.chance(0.3);
  const bool intensified = rng.chance(0.35);
  if (negated) s << ' ' << rng.pick(kNegators);
  if (intensified) s << ' ' << rng.pick(kIntensifiers);
  const std::uint64_t kind = rng.below(5);  // 2/5 positive, 2/5 negative, 1/5 neutral
  int polarity = 0;
  if (kind < 2)
    s << ' ' << rng.pick(kPositive), polarity = 1;
  else if (kind < 4)
    s << ' ' << rng.pick(kNegative), polarity = -1;
  else
    s << ' ' << rng.pick(kNeutral);
  c.text = s.str();
  c.value = polarity * (intensified ? 2 : 1) * (negated ? -1 : 1);
  return c;
}

// One sentence and the label the rule gives it: total = sum of clause values, a clause right
// after "but" weighing 3; the sign of the total is the label (0: neutral).
std::pair<std::string, int> make_sentence(SplitMix64& rng) {
  std::ostringstream s;
  if (rng.chance(0.2)) s << rng.pick(kOpeners) << ' ';
  const std::uint64_t clauses = 1 + rng.below(3);
  int total = 0;
  for (std::uint64_t i = 0; i < clauses; ++i) {
    int weight = 1;
    if (i > 0) {
      const bool contrast = rng.chance(0.5);
      s << (contrast ? " but " : " and ");
      if (contrast) weight = 3;
    }
    Clause c = make_clause(rng);
    s << c.text;
    total += weight * c.value;
  }
  if (rng.chance(0.2)) s << ' ' << rng.pick(kClosers);
  s << " .";
  const int label = total < 0 ? 0 : (total == 0 ? 1 : 2);
  return {s.str(), label};
}

}  // namespace

SeqClsDataset synthetic_seq_cls(std::size_t size, std::uint64_t seed, double label_noise) {
  SeqClsDataset data;
  data.source = "synthetic(task=seq_cls,size=" + std::to_string(size) + ",seed=" + std::to_string(seed) + ")";
  data.labels = LabelSet(kLabels);
  SplitMix64 rng(seed ^ 0x5E9C15ULL);
  data.examples.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    // Classes are balanced by drawing the wanted label first and sentences until one fits.
    const int wanted = static_cast<int>(i % kLabels.size());
    std::pair<std::string, int> sentence;
    do sentence = make_sentence(rng);
    while (sentence.second != wanted);
    std::int64_t label = sentence.second;
    if (rng.chance(label_noise)) label = (label + 1 + static_cast<std::int64_t>(rng.below(2))) % 3;
    data.examples.push_back({std::move(sentence.first), std::nullopt, label, 0});
  }
  // Interleaved labels (0,1,2,0,...) would leak the label through the index; shuffle.
  for (std::size_t i = data.examples.size(); i > 1; --i)
    std::swap(data.examples[i - 1], data.examples[static_cast<std::size_t>(rng.below(i))]);
  return data;
}

std::vector<std::string> synthetic_seq_cls_words() {
  std::vector<std::string> words;
  for (const auto* table :
       {&kSubjects, &kVerbs, &kPositive, &kNegative, &kNeutral, &kIntensifiers, &kNegators, &kOpeners, &kClosers})
    words.insert(words.end(), table->begin(), table->end());
  words.push_back("and");
  words.push_back("but");
  words.push_back(".");
  return unique_words(words);
}

}  // namespace slimpipe::data
