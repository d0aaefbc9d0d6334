// Chunk extraction and F1 against values derived by hand from seqeval's rules (seqeval itself
// is not installed here); each case names the rule it pins.
#include "slimpipe/metrics/chunk.hpp"

#include <gtest/gtest.h>

#include "slimpipe/error.hpp"

namespace slimpipe::metrics {
// Readable failure messages: (PER, 0, 2).
void PrintTo(const Chunk& c, std::ostream* os) { *os << "(" << c.type << ", " << c.begin << ", " << c.end << ")"; }
}  // namespace slimpipe::metrics

using slimpipe::metrics::Chunk;
using slimpipe::metrics::ChunkF1;
using slimpipe::metrics::ChunkMode;
using slimpipe::metrics::extract_chunks;
using Tags = std::vector<std::string>;
using Chunks = std::vector<Chunk>;

TEST(ChunkLenient, SeqevalDocstringExample) {
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "O", "B-LOC"}), (Chunks{{"PER", 0, 2}, {"LOC", 3, 4}}));
}

TEST(ChunkLenient, InsideAfterOutsideStartsAChunk) {
  EXPECT_EQ(extract_chunks({"O", "I-PER", "I-PER", "O"}), (Chunks{{"PER", 1, 3}}));
  EXPECT_EQ(extract_chunks({"I-MISC"}), (Chunks{{"MISC", 0, 1}}));
}

TEST(ChunkLenient, TypeSwitchEndsOneChunkAndStartsAnother) {
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "I-LOC", "O"}), (Chunks{{"PER", 0, 2}, {"LOC", 2, 3}}));
  EXPECT_EQ(extract_chunks({"I-PER", "I-LOC"}), (Chunks{{"PER", 0, 1}, {"LOC", 1, 2}}));
}

TEST(ChunkLenient, EntityAtSentenceEndIsClosed) {
  EXPECT_EQ(extract_chunks({"O", "B-ORG", "I-ORG"}), (Chunks{{"ORG", 1, 3}}));
}

TEST(ChunkLenient, AdjacentBeginsAreSeparateChunks) {
  EXPECT_EQ(extract_chunks({"B-PER", "B-PER", "I-PER"}), (Chunks{{"PER", 0, 1}, {"PER", 1, 3}}));
}

TEST(ChunkLenient, BioesSinglesAndEnds) {
  EXPECT_EQ(extract_chunks({"S-PER", "B-LOC", "E-LOC", "S-ORG"}),
            (Chunks{{"PER", 0, 1}, {"LOC", 1, 3}, {"ORG", 3, 4}}));
  // B then S: (B, S) ends the first chunk and S starts a new one.
  EXPECT_EQ(extract_chunks({"B-PER", "S-PER"}), (Chunks{{"PER", 0, 1}, {"PER", 1, 2}}));
  // E E: (E, *) ends, (E, E) starts.
  EXPECT_EQ(extract_chunks({"E-PER", "E-PER"}), (Chunks{{"PER", 0, 1}, {"PER", 1, 2}}));
}

TEST(ChunkLenient, MalformedBioesStillCountsAsSeqevalDoes) {
  EXPECT_EQ(extract_chunks({"O", "E-PER", "O"}), (Chunks{{"PER", 1, 2}}));      // E without B
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "O"}), (Chunks{{"PER", 0, 2}}));  // no E
}

TEST(ChunkLenient, InvalidTagIsAnError) {
  EXPECT_THROW(extract_chunks({"PER"}), slimpipe::Error);
  EXPECT_THROW(extract_chunks({"X-PER"}), slimpipe::Error);
}

TEST(ChunkStrictIob2, InsideWithoutBeginIsIgnored) {
  EXPECT_EQ(extract_chunks({"O", "I-PER", "I-PER", "O"}, ChunkMode::StrictIob2), Chunks{});
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "I-LOC", "O"}, ChunkMode::StrictIob2), (Chunks{{"PER", 0, 2}}));
  EXPECT_EQ(extract_chunks({"B-PER", "B-PER", "I-PER"}, ChunkMode::StrictIob2), (Chunks{{"PER", 0, 1}, {"PER", 1, 3}}));
  EXPECT_EQ(extract_chunks({"B-PER", "I-LOC"}, ChunkMode::StrictIob2), (Chunks{{"PER", 0, 1}}));
  EXPECT_EQ(extract_chunks({"O", "B-ORG", "I-ORG"}, ChunkMode::StrictIob2), (Chunks{{"ORG", 1, 3}}));
}

TEST(ChunkStrictIob2, EndPrefixIsOutsideTheScheme) {
  EXPECT_THROW(extract_chunks({"B-PER", "E-PER"}, ChunkMode::StrictIob2), slimpipe::Error);
}

TEST(ChunkStrictIobes, OnlyProperlyClosedChunksCount) {
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "O"}, ChunkMode::StrictIobes), Chunks{});
  EXPECT_EQ(extract_chunks({"B-PER", "E-PER", "S-LOC"}, ChunkMode::StrictIobes),
            (Chunks{{"PER", 0, 2}, {"LOC", 2, 3}}));
  EXPECT_EQ(extract_chunks({"O", "E-PER", "O"}, ChunkMode::StrictIobes), Chunks{});
  EXPECT_EQ(extract_chunks({"B-PER", "I-PER", "E-LOC"}, ChunkMode::StrictIobes), Chunks{});
  EXPECT_EQ(extract_chunks({"S-PER", "E-PER"}, ChunkMode::StrictIobes), (Chunks{{"PER", 0, 1}}));
}

TEST(ChunkF1, SeqevalDocstringExampleGivesHalf) {
  ChunkF1 f1;
  f1.add(Tags{"O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"},
         Tags{"O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"});
  f1.add(Tags{"B-PER", "I-PER", "O"}, Tags{"B-PER", "I-PER", "O"});
  EXPECT_DOUBLE_EQ(f1.micro().precision(), 0.5);
  EXPECT_DOUBLE_EQ(f1.micro().recall(), 0.5);
  EXPECT_DOUBLE_EQ(f1.micro().f1(), 0.5);
  EXPECT_EQ(f1.per_type().at("MISC").correct, 0u);
  EXPECT_DOUBLE_EQ(f1.per_type().at("PER").f1(), 1.0);
}

TEST(ChunkF1, MicroAndPerTypeCounts) {
  ChunkF1 f1;
  f1.add(Tags{"B-PER", "I-PER", "O", "B-LOC", "O"}, Tags{"B-PER", "I-PER", "O", "B-ORG", "O"});
  f1.add(Tags{"B-ORG", "O", "B-PER"}, Tags{"B-ORG", "O", "O"});
  EXPECT_EQ(f1.micro().gold, 4u);
  EXPECT_EQ(f1.micro().predicted, 3u);
  EXPECT_EQ(f1.micro().correct, 2u);
  EXPECT_DOUBLE_EQ(f1.micro().precision(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(f1.micro().recall(), 0.5);
  EXPECT_NEAR(f1.micro().f1(), 4.0 / 7.0, 1e-15);
  const auto& t = f1.per_type();
  EXPECT_EQ(t.at("PER").gold, 2u);
  EXPECT_EQ(t.at("PER").correct, 1u);
  EXPECT_EQ(t.at("LOC").predicted, 0u);
  EXPECT_DOUBLE_EQ(t.at("LOC").precision(), 0.0);
  EXPECT_EQ(t.at("ORG").predicted, 2u);
  EXPECT_DOUBLE_EQ(t.at("ORG").f1(), 2 * 0.5 * 1.0 / 1.5);
}

TEST(ChunkF1, SentencesDoNotJoinAcrossBoundaries) {
  // As ChunkEvaluator flattens with an O between sentences: I-PER opening sentence 2 is new.
  ChunkF1 f1;
  f1.add(Tags{"B-PER"}, Tags{"B-PER"});
  f1.add(Tags{"I-PER"}, Tags{"I-PER"});
  EXPECT_EQ(f1.micro().gold, 2u);
  EXPECT_EQ(f1.micro().correct, 2u);
}

TEST(ChunkF1, IdsOutsideTheLabelListPredictO) {
  const std::vector<std::string> names = {"O", "B-PER", "I-PER"};
  ChunkF1 f1;
  f1.add(std::vector<std::int64_t>{1, 2, 0}, std::vector<std::int64_t>{1, 7, 0}, names);
  EXPECT_EQ(f1.micro().predicted, 1u);  // B-PER O O -> PER(0,1), which is not PER(0,2)
  EXPECT_EQ(f1.micro().correct, 0u);
  EXPECT_THROW(f1.add(std::vector<std::int64_t>{9}, std::vector<std::int64_t>{0}, names), slimpipe::Error);
}

TEST(ChunkF1, NothingPredictedGivesZeroNotNaN) {
  ChunkF1 f1;
  f1.add(Tags{"B-PER"}, Tags{"O"});
  EXPECT_EQ(f1.micro().precision(), 0.0);
  EXPECT_EQ(f1.micro().f1(), 0.0);
  EXPECT_THROW(f1.add(Tags{"O"}, Tags{"O", "O"}), slimpipe::Error);
}
