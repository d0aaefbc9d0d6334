// Data-parallel training (slimpipe/train/data_parallel.hpp) against one process: the same worker
// (tests/dist/worker/train_worker.cpp) trains alone, then as two ranks under `slimpipe launch`, on the same global
// batches; every step's loss agrees within 1e-4 relative and the evaluations, the best state and its weights agree.
// Covered: the Trainer on a sequence task (an epoch's last batch split 2 + 3 rows), on token classification (loss
// weighted by labelled tokens; 1-row batches leave a rank without rows), and DynaBERT width distillation (padded
// rows: the hidden-state MSE weighted by tokens).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "dist_test_support.hpp"

namespace {

using namespace slimpipe::dist_test;

struct Line {
  std::string key;
  std::vector<std::string> words;  // the rest of the line
};

std::vector<Line> read_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<Line> lines;
  for (std::string text; std::getline(in, text);) {
    std::istringstream s(text);
    Line l;
    s >> l.key;
    for (std::string w; s >> w;) l.words.push_back(w);
    lines.push_back(l);
  }
  return lines;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(a), 1e-12); }

// Trains `mode` alone and on two ranks; compares line by line. Returns the largest relative loss difference.
double compare_one_and_two(const std::string& mode, std::size_t expected_losses) {
  Scratch scratch("dp-" + mode);
  const std::string worker = SLIMPIPE_TRAIN_WORKER;
  const Outcome one = run_shell("env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS '" + worker + "' " + mode +
                                    " '" + (scratch / "one.txt") + "'",
                                scratch, "one");
  EXPECT_EQ(one.status, 0) << one.err;
  const Outcome two = run_shell(std::string("'") + SLIMPIPE_CLI + "' launch --nproc 2 -- '" + worker + "' " + mode +
                                    " '" + (scratch / "two.txt") + "'",
                                scratch, "two");
  EXPECT_EQ(two.status, 0) << two.err;
  const auto a = read_lines(scratch / "one.txt"), b = read_lines(scratch / "two.txt");
  EXPECT_EQ(a.size(), b.size());
  std::size_t losses = 0;
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const Line &x = a[i], &y = b[i];
    EXPECT_EQ(x.key, y.key) << "line " << i;
    EXPECT_EQ(x.words.size(), y.words.size()) << "line " << i;
    if (x.key == "loss") ++losses;
    for (std::size_t k = 0; k < std::min(x.words.size(), y.words.size()); ++k) {
      if (x.key == "loss" || x.key == "weights") {  // numbers that float rounding may move a little
        const double d = relative(std::stod(x.words[k]), std::stod(y.words[k]));
        if (x.key == "loss") worst = std::max(worst, d);
        EXPECT_LE(d, 1e-4) << x.key << " line " << i << ": " << x.words[k] << " vs " << y.words[k];
      } else {  // steps, widths, evaluations, the best step: the same
        EXPECT_EQ(x.words[k], y.words[k]) << x.key << " line " << i;
      }
    }
  }
  EXPECT_EQ(losses, expected_losses);
  std::cout << mode << ": " << losses << " loss lines, largest relative difference " << worst << "\n";
  for (const Line& l : a)
    if (l.key == "best") {
      std::cout << mode << ": best";
      for (const auto& w : l.words) std::cout << " " << w;
      std::cout << "\n";
    }
  return worst;
}

TEST(DataParallel, TrainerOnTwoRanksMatchesOneProcessOnTheGlobalBatch) { compare_one_and_two("trainer_seq", 20); }

TEST(DataParallel, TokenClassificationWeightsRanksByLabelledTokensAndSurvivesAnEmptyShard) {
  compare_one_and_two("trainer_token", 20);
}

TEST(DataParallel, DynabertWidthDistillationOnTwoRanksMatchesOneProcess) {
  compare_one_and_two("dynabert", 2 * 20);  // one line per width and step
}

}  // namespace
