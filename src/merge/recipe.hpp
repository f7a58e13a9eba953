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

// Throws cocktail::Error when the weights cannot be used (normalising a zero sum).
MergeRecipe make_recipe(const Job& job);

std::string method_name(MergeMethod method);

}  // namespace cocktail
