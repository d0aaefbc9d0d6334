// Synthetic extractive QA: a context of 4-6 short facts and a question about one of them.
// Facts of the same relation about other subjects are always present, so the answer needs matching.
#include <algorithm>

#include "slimpipe/data/random.hpp"
#include "slimpipe/data/synthetic.hpp"

namespace slimpipe::data {

namespace {

const std::vector<std::string> kFirstNames = {"ana",  "ben",   "carla", "dev",  "eva",  "farid", "greta", "hugo",
                                              "ines", "jonas", "kira",  "luca", "mila", "noah",  "olga",  "pavel"};
const std::vector<std::string> kLastNames = {"reyes", "stone", "moreau",  "tanaka", "okafor",
                                             "lind",  "costa", "ivanova", "park",   "haddad"};
const std::vector<std::string> kCountries = {"norland", "estavia", "kurona", "maldeca", "tirenia",
                                             "valoria", "zembla",  "ostra",  "belmark", "suvania"};
const std::vector<std::string> kCities = {"port ellis", "amberly",      "kestrel bay", "dunmore",
                                          "sorel",      "high cairn",   "vantor",      "lowmere",
                                          "brisa",      "corvin falls", "tallis",      "west harrow"};
const std::vector<std::string> kCompanies = {"blue harbor",  "redline",      "orbit labs",  "north forge",
                                             "silver pine",  "kite systems", "amber foods", "cobalt media",
                                             "granite bank", "lumen motors"};
const std::vector<std::string> kProducts = {"electric cars", "coffee",   "running shoes", "solar panels", "toys",
                                            "chocolate",     "bicycles", "cheese",        "phones",       "umbrellas"};

// A relation renders a fact and a question from a subject and an object; `subject` and `object`
// say which tables they come from.
struct Relation {
  const char* fact_before;  // fact = before + subject + middle + object + " ."
  const char* fact_middle;
  const char* question_before;  // question = before + subject + after
  const char* question_after;
  enum Kind { Person, Country, Company, City, Year, Product } subject, object;
};

const std::vector<Relation> kRelations = {
    {"the capital of ", " is ", "what is the capital of ", " ?", Relation::Country, Relation::City},
    {"", " works at ", "where does ", " work ?", Relation::Person, Relation::Company},
    {"", " was born in ", "when was ", " born ?", Relation::Person, Relation::Year},
    {"", " lives in ", "where does ", " live ?", Relation::Person, Relation::City},
    {"", " makes ", "what does ", " make ?", Relation::Company, Relation::Product},
    {"", " was founded in ", "when was ", " founded ?", Relation::Company, Relation::Year},
};

std::string draw(Relation::Kind kind, SplitMix64& rng) {
  switch (kind) {
    case Relation::Person: {
      // Two draws in one expression would be in an unspecified order (gcc and clang differ): the last name is
      // drawn first, as the gcc builds that pinned the data did.
      const std::string& last = rng.pick(kLastNames);
      return rng.pick(kFirstNames) + " " + last;
    }
    case Relation::Country:
      return rng.pick(kCountries);
    case Relation::Company:
      return rng.pick(kCompanies);
    case Relation::City:
      return rng.pick(kCities);
    case Relation::Year:
      return std::to_string(1900 + rng.below(121));
    case Relation::Product:
      return rng.pick(kProducts);
  }
  return {};
}

struct Fact {
  std::size_t relation;
  std::string subject, object;
};

// Draws facts until `count` are collected with distinct (relation, subject) pairs and distinct
// objects per relation, so every question has exactly one right span.
std::vector<Fact> draw_facts(std::size_t asked, std::size_t count, SplitMix64& rng) {
  std::vector<Fact> facts;
  auto clashes = [&](const Fact& f) {
    for (const Fact& g : facts)
      if (g.relation == f.relation && (g.subject == f.subject || g.object == f.object)) return true;
    return false;
  };
  // Two or three facts of the asked relation, the rest from any relation.
  const std::size_t same = 2 + rng.below(2);
  while (facts.size() < count) {
    const std::size_t r = facts.size() < same ? asked : static_cast<std::size_t>(rng.below(kRelations.size()));
    Fact f{r, draw(kRelations[r].subject, rng), draw(kRelations[r].object, rng)};
    // Reuse a person already mentioned now and then, so a name alone does not identify the fact.
    if (kRelations[r].subject == Relation::Person && !facts.empty() && rng.chance(0.4)) {
      const Fact& other = facts[static_cast<std::size_t>(rng.below(facts.size()))];
      if (kRelations[other.relation].subject == Relation::Person) f.subject = other.subject;
    }
    if (!clashes(f)) facts.push_back(std::move(f));
  }
  return facts;
}

}  // namespace

QaDataset synthetic_qa(std::size_t size, std::uint64_t seed) {
  QaDataset data;
  data.source = "synthetic(task=qa,size=" + std::to_string(size) + ",seed=" + std::to_string(seed) + ")";
  SplitMix64 rng(seed ^ 0x9A0C7ULL);
  data.examples.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const std::size_t asked = static_cast<std::size_t>(rng.below(kRelations.size()));
    std::vector<Fact> facts = draw_facts(asked, 4 + rng.below(3), rng);
    for (std::size_t k = facts.size(); k > 1; --k)  // the asked relation's facts were drawn first
      std::swap(facts[k - 1], facts[static_cast<std::size_t>(rng.below(k))]);
    QaExample ex;
    ex.id = "syn-" + std::to_string(seed) + "-" + std::to_string(i);
    ex.title = "synthetic";
    // The question is about one of the asked relation's facts; the others are distractors.
    std::vector<std::size_t> candidates;
    for (std::size_t k = 0; k < facts.size(); ++k)
      if (facts[k].relation == asked) candidates.push_back(k);
    const std::size_t answer_fact = rng.pick(candidates);
    for (std::size_t k = 0; k < facts.size(); ++k) {
      const Relation& rel = kRelations[facts[k].relation];
      if (!ex.context.empty()) ex.context += ' ';
      ex.context += rel.fact_before + facts[k].subject + rel.fact_middle;
      if (k == answer_fact) ex.answers.push_back({facts[k].object, ex.context.size(), ex.context.size()});
      ex.context += facts[k].object + " .";
    }
    const Relation& rel = kRelations[asked];
    ex.question = rel.question_before + facts[answer_fact].subject + rel.question_after;
    data.examples.push_back(std::move(ex));
  }
  return data;
}

std::vector<std::string> synthetic_qa_words() {
  std::vector<std::string> phrases;
  for (const auto* table : {&kFirstNames, &kLastNames, &kCountries, &kCities, &kCompanies, &kProducts})
    phrases.insert(phrases.end(), table->begin(), table->end());
  for (int year = 1900; year <= 2020; ++year) phrases.push_back(std::to_string(year));
  for (const Relation& r : kRelations)
    for (const char* p : {r.fact_before, r.fact_middle, r.question_before, r.question_after}) phrases.push_back(p);
  phrases.push_back(".");
  return unique_words(phrases);
}

}  // namespace slimpipe::data
