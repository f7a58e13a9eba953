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
  std::vector<float> weights;  // aligned with `models`; empty for a method of src/merge/methods/
  std::string description;     // such a method's parameters, printed instead of weights
  std::string vocabulary;      // under a tokenizer choice: the output vocabulary's summary
  std::vector<std::string> warnings;
};

// `job` is validated (load_job refuses weights that sum to 0 with normalize).
// For lm_cocktail with examples, `candidate_weights` are the weights from the
// few-shot losses, aligned with job.candidates(); otherwise leave it empty.
MergeRecipe make_recipe(const Job& job, const std::vector<double>& candidate_weights = {});


}  // namespace cocktail
