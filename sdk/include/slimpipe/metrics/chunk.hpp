// Entity-level (chunk) precision/recall/F1 for IOB2 and IOBES tags, as seqeval computes them.
// Default mode = seqeval's get_entities, which PaddleNLP's ChunkEvaluator uses (spec §5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::metrics {

enum class ChunkMode {
  // seqeval default (get_entities): lenient; I- after O or after another type starts a chunk,
  // E-/S- work too, so BIO and BIOES need no scheme setting. What ChunkEvaluator reports.
  Lenient,
  // seqeval mode='strict' with scheme=IOB2 / IOBES: only chunks that follow the scheme exactly
  // count (IOB2: B-X I-X*; IOBES: B-X I-X* E-X or S-X). Tags outside the scheme are errors.
  StrictIob2,
  StrictIobes,
};

SLIMPIPE_API ChunkMode chunk_mode_from_string(const std::string& name);  // lenient, strict_iob2, strict_iobes

struct SLIMPIPE_API Chunk {
  std::string type;
  std::size_t begin = 0;  // first token
  std::size_t end = 0;    // one past the last token
  bool operator==(const Chunk& o) const { return type == o.type && begin == o.begin && end == o.end; }
  bool operator<(const Chunk& o) const;
};

// Chunks of one sentence. Throws Error on a tag that is not O or B-/I-/E-/S-<type> (or bare
// B/I/E/S), or, in a strict mode, whose prefix the scheme does not allow.
SLIMPIPE_API std::vector<Chunk> extract_chunks(const std::vector<std::string>& tags,
                                               ChunkMode mode = ChunkMode::Lenient);

struct SLIMPIPE_API ChunkScore {
  std::size_t predicted = 0, gold = 0, correct = 0;
  // 0 when the denominator is 0, as seqeval and ChunkEvaluator do.
  double precision() const;
  double recall() const;
  double f1() const;
};

// Accumulates over sentences; micro-averaged over all entities, plus per entity type.
class SLIMPIPE_API ChunkF1 {
 public:
  explicit ChunkF1(ChunkMode mode = ChunkMode::Lenient) : mode_(mode) {}
  // One sentence; throws Error when the lengths differ.
  void add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted);
  // Ids through `names`; a predicted id outside `names` counts as "O" (as ChunkEvaluator does),
  // a gold id outside is an error.
  void add(const std::vector<std::int64_t>& gold, const std::vector<std::int64_t>& predicted,
           const std::vector<std::string>& names);

  const ChunkScore& micro() const { return micro_; }
  const std::map<std::string, ChunkScore>& per_type() const { return per_type_; }

 private:
  ChunkMode mode_;
  ChunkScore micro_;
  std::map<std::string, ChunkScore> per_type_;
};

}  // namespace slimpipe::metrics
