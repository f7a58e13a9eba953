// Merge recipes from validated jobs: which models are summed, with which
// float32 weights, and the warnings a user should see.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/job.hpp"
#include "core/error.hpp"
#include "merge/recipe.hpp"

using namespace cocktail;

static ModelSpec spec(const std::string& path, ModelRole role, std::optional<double> weight) {
  ModelSpec m;
  m.path = "/models/" + path;
  m.role = role;
  m.weight = weight;
  return m;
}

static Job linear_job(std::vector<ModelSpec> models, bool normalize) {
  Job job;
  job.config_path = "/jobs/merge.yaml";
  job.method = MergeMethod::Linear;
  job.models = std::move(models);
  job.normalize = normalize;
  return job;
}

static Job cocktail_job(std::vector<ModelSpec> models, double alpha) {
  Job job;
  job.config_path = "/jobs/cocktail.yaml";
  job.method = MergeMethod::LmCocktail;
  job.models = std::move(models);
  job.alpha = alpha;
  return job;
}

// ---- linear ---------------------------------------------------------------------

TEST(RecipeLinear, NormalizeDividesBySumInDouble) {
  const Job job = linear_job({spec("a", ModelRole::Peer, 0.1), spec("b", ModelRole::Peer, 0.2),
                              spec("c", ModelRole::Peer, 0.3)},
                             true);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1, 2}));
  const double sum = 0.1 + 0.2 + 0.3;
  ASSERT_EQ(r.weights.size(), 3u);
  EXPECT_EQ(r.weights[0], static_cast<float>(0.1 / sum));
  EXPECT_EQ(r.weights[1], static_cast<float>(0.2 / sum));
  EXPECT_EQ(r.weights[2], static_cast<float>(0.3 / sum));
  // These weights are chosen so that float arithmetic would round differently:
  // the test tells double-then-round from float division.
  const float fsum = 0.1f + 0.2f + 0.3f;
  EXPECT_NE(static_cast<float>(0.1 / sum), 0.1f / fsum);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(RecipeLinear, NormalizeIntegerWeights) {
  const Job job = linear_job({spec("a", ModelRole::Peer, 1.0), spec("b", ModelRole::Peer, 3.0)}, true);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(r.weights, (std::vector<float>{0.25f, 0.75f}));
  EXPECT_TRUE(r.warnings.empty());
}

TEST(RecipeLinear, WithoutNormalizeWeightsAreKeptAndOffSumWarns) {
  const Job job = linear_job({spec("a", ModelRole::Peer, 0.5), spec("b", ModelRole::Peer, 1.0)}, false);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(r.weights, (std::vector<float>{0.5f, 1.0f}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("1.5"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("normalize"), std::string::npos) << r.warnings[0];
}

TEST(RecipeLinear, WithoutNormalizeWeightsKeepDoubleRounding) {
  const Job job = linear_job({spec("a", ModelRole::Peer, 0.1), spec("b", ModelRole::Peer, 0.7)}, false);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.weights, (std::vector<float>{static_cast<float>(0.1), static_cast<float>(0.7)}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("0.8"), std::string::npos) << r.warnings[0];
}

TEST(RecipeLinear, WithoutNormalizeNoWarningWhenSumIsOne) {
  {
    const Job job = linear_job({spec("a", ModelRole::Peer, 0.25), spec("b", ModelRole::Peer, 0.75)}, false);
    const MergeRecipe r = make_recipe(job);
    EXPECT_EQ(r.weights, (std::vector<float>{0.25f, 0.75f}));
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  }
  {
    // 0.7 + 0.2 + 0.1 is 0.9999999999999999 in double: still "1".
    const Job job = linear_job({spec("a", ModelRole::Peer, 0.7), spec("b", ModelRole::Peer, 0.2),
                                spec("c", ModelRole::Peer, 0.1)},
                               false);
    ASSERT_NE(0.7 + 0.2 + 0.1, 1.0);
    const MergeRecipe r = make_recipe(job);
    EXPECT_EQ(r.weights.size(), 3u);
    EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  }
}

TEST(RecipeLinear, BaseWithoutWeightIsNotSummed) {
  const Job job = linear_job({spec("base", ModelRole::Base, std::nullopt),
                              spec("a", ModelRole::Peer, 1.0), spec("b", ModelRole::Peer, 3.0)},
                             true);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(r.weights, (std::vector<float>{0.25f, 0.75f}));
}

TEST(RecipeLinear, BaseWithWeightIsSummed) {
  const Job job = linear_job({spec("base", ModelRole::Base, 2.0), spec("a", ModelRole::Peer, 2.0)}, true);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(r.weights, (std::vector<float>{0.5f, 0.5f}));
}

// Weights summing to 0 with normalize are refused by load_job (test_config).

TEST(RecipeLinear, ZeroSumWithoutNormalizeKeepsWeightsAndWarns) {
  const Job job = linear_job({spec("a", ModelRole::Peer, 1.0), spec("b", ModelRole::Peer, -1.0)}, false);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.weights, (std::vector<float>{1.0f, -1.0f}));
  EXPECT_EQ(r.warnings.size(), 1u);
}

// ---- lm_cocktail ---------------------------------------------------------------------

TEST(RecipeLmCocktail, BaseGetsOneMinusAlphaTargetGetsAlpha) {
  const Job job = cocktail_job({spec("base", ModelRole::Base, std::nullopt),
                                spec("target", ModelRole::Target, std::nullopt)},
                               0.3);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1}));
  ASSERT_EQ(r.weights.size(), 2u);
  EXPECT_EQ(r.weights[0], static_cast<float>(1.0 - 0.3));
  EXPECT_EQ(r.weights[1], static_cast<float>(0.3));
  EXPECT_TRUE(r.warnings.empty());
}

TEST(RecipeLmCocktail, WeightsFollowJobOrder) {
  // Target listed first: the recipe keeps the job's order, weights stay attached.
  const Job job = cocktail_job({spec("target", ModelRole::Target, std::nullopt),
                                spec("base", ModelRole::Base, std::nullopt)},
                               0.8);
  const MergeRecipe r = make_recipe(job);
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(r.weights, (std::vector<float>{static_cast<float>(0.8), static_cast<float>(1.0 - 0.8)}));
}

TEST(RecipeLmCocktail, AlphaEndpoints) {
  const Job keep_base = cocktail_job({spec("base", ModelRole::Base, std::nullopt),
                                      spec("target", ModelRole::Target, std::nullopt)},
                                     0.0);
  EXPECT_EQ(make_recipe(keep_base).weights, (std::vector<float>{1.0f, 0.0f}));
  const Job keep_target = cocktail_job({spec("base", ModelRole::Base, std::nullopt),
                                        spec("target", ModelRole::Target, std::nullopt)},
                                       1.0);
  EXPECT_EQ(make_recipe(keep_target).weights, (std::vector<float>{0.0f, 1.0f}));
}

TEST(RecipeLmCocktail, Eq1MixesTargetWithWeightedCandidates) {
  Job job = cocktail_job({spec("base", ModelRole::Base, std::nullopt),
                          spec("ft", ModelRole::Target, std::nullopt),
                          spec("peer", ModelRole::Peer, std::nullopt)},
                         0.25);
  job.fewshot = FewShot{};
  ASSERT_EQ(job.candidates(), (std::vector<size_t>{0, 2}));
  const MergeRecipe r = make_recipe(job, {0.6, 0.4});
  EXPECT_EQ(r.models, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(r.weights, (std::vector<float>{static_cast<float>(0.75 * 0.6), 0.25f,
                                           static_cast<float>(0.75 * 0.4)}));
}

TEST(RecipeLmCocktail, Eq4WeighsCandidatesAlone) {
  Job job = cocktail_job({spec("base", ModelRole::Base, std::nullopt),
                          spec("p1", ModelRole::Peer, std::nullopt),
                          spec("p2", ModelRole::Peer, std::nullopt)},
                         0.5);  // alpha has no target to apply to
  job.fewshot = FewShot{};
  const MergeRecipe r = make_recipe(job, {0.2, 0.3, 0.5});
  EXPECT_EQ(r.weights, (std::vector<float>{0.2f, 0.3f, 0.5f}));
  EXPECT_THROW(make_recipe(job, {0.5, 0.5}), Error);  // one weight per candidate
}
