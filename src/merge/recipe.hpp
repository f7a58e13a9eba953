#pragma once
// A merge recipe: which models are summed and with which float32 weights.
// Both methods of this stage (linear, LM-Cocktail mono-specialist) reduce to
// it; few-shot weights will produce one too.
#include <cstddef>
#include <string>
#include <vector>

#include "config/job.hpp"

namespace cocktail {

struct MergeRecipe {
  std::vector<size_t> models;  // indices into Job::models, summed in this order
  std::vector<float> weights;  // aligned with `models`
  std::vector<std::string> warnings;
};

// `job` is validated (load_job refuses weights that sum to 0 with normalize).
MergeRecipe make_recipe(const Job& job);

std::string method_name(MergeMethod method);

}  // namespace cocktail
