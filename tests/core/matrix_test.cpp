// Matrix expansion (cross product, exclude, include) and fan-out, with stable instance ids.
#include <gtest/gtest.h>

#include <set>

#include "slimpipe/core/plan.hpp"
#include "test_util.hpp"

using namespace slimpipe::core;

namespace {

Plan plan_of(const std::string& toml) {
  return make_plan(parse_pipeline(toml, "/tmp/p/grid.toml", {}, testutil::test_registry()));
}

std::vector<std::string> ids_of(const Plan& p, const std::string& node) {
  std::vector<std::string> out;
  for (const auto& i : p.instances)
    if (i.id.rfind(node, 0) == 0) out.push_back(i.id);
  return out;
}

const char* kGrid =
    "[model]\npath = \"m\"\n"
    "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n"
    "[nodes.q.matrix]\nx = [\"KL\", \"hist\", \"mse\", \"emd\", \"avg\", \"abs_max\", \"min_max\"]\ny = [4, 8, 16]\nz "
    "= [1, 2]\n";

}  // namespace

TEST(Matrix, SevenByThreeByTwoExpandsToFortyTwoStableIds) {
  Plan a = plan_of(kGrid);
  auto ids = ids_of(a, "q@");
  ASSERT_EQ(ids.size(), 42u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 42u);
  EXPECT_EQ(ids.front(), "q@x=KL,y=4,z=1");
  EXPECT_EQ(ids.back(), "q@x=min_max,y=16,z=2");
  EXPECT_EQ(ids_of(plan_of(kGrid), "q@"), ids);  // same file, same ids
  // Axis order follows the file, not the alphabet.
  Plan b = plan_of(
      "[model]\npath = \"m\"\n[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[nodes.q.matrix]\nz = [1]\nx = "
      "[\"a\"]\n");
  EXPECT_EQ(ids_of(b, "q@"), std::vector<std::string>{"q@z=1,x=a"});
  const auto& inst = a.instances[1];
  EXPECT_EQ(inst.params["x"], "KL");
  EXPECT_EQ(inst.params["y"], 4);
  EXPECT_EQ(inst.params["sleep_ms"], 0);  // schema default filled in
  EXPECT_EQ(inst.dir, "/tmp/p/runs/grid/q/x=KL,y=4,z=1");
}

TEST(Matrix, ExcludeThenIncludeFollowGitHubActions) {
  Plan p = plan_of(
      "[model]\npath = \"m\"\n[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[nodes.q.matrix]\n"
      "x = [\"a\", \"b\"]\ny = [1, 2]\nexclude = [{ x = \"b\", y = 2 }]\n"
      "include = [{ x = \"a\", z = 5 }, { x = \"c\", y = 9 }, { y = 1, payload = \"p\" }]\n");
  EXPECT_EQ(ids_of(p, "q@"),
            (std::vector<std::string>{"q@x=a,y=1,z=5,payload=p", "q@x=a,y=2,z=5", "q@x=b,y=1,payload=p", "q@x=c,y=9"}));
}

TEST(Matrix, FansOutPerUpstreamArtifactAndCollects) {
  Plan p = plan_of(
      "[model]\npath = \"m\"\n"
      "[nodes.prune]\ntype = \"sleep_record\"\ninputs = [\"model\"]\noutputs = [\"width_0.75\", \"width_0.5\"]\n"
      "[nodes.quant]\ntype = \"sleep_record\"\ninputs = [\"prune\"]\n[nodes.quant.matrix]\nx = [\"KL\", \"mse\"]\n"
      "[nodes.eval]\ntype = \"sleep_record\"\ninputs = [\"quant\", \"prune\"]\n"
      "[nodes.rank]\ntype = \"sleep_record\"\ninputs = [\"quant\"]\ncollect = true\n");
  EXPECT_EQ(ids_of(p, "quant"),
            (std::vector<std::string>{"quant@prune=width_0.75,x=KL", "quant@prune=width_0.75,x=mse",
                                      "quant@prune=width_0.5,x=KL", "quant@prune=width_0.5,x=mse"}));
  // eval pairs each quantized model with the pruned model of the same width only.
  auto evals = ids_of(p, "eval");
  ASSERT_EQ(evals.size(), 4u);
  EXPECT_EQ(evals[0], "eval@prune=width_0.75,x=KL");
  auto rank = p.match("rank");
  ASSERT_EQ(rank.size(), 1u);
  EXPECT_EQ(p.instances[rank[0]].inputs.size(), 4u);
  EXPECT_EQ(p.instances[rank[0]].upstream.size(), 4u);
}

TEST(Matrix, DuplicateCellsAreRejected) {
  EXPECT_THROW(plan_of("[model]\npath = \"m\"\n[nodes.q]\ntype = \"sleep_record\"\ninputs = "
                       "[\"model\"]\n[nodes.q.matrix]\nx = [1, 1]\n"),
               SpecError);
}
