#include "merge/recipe.hpp"

#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace cocktail {
namespace {

MergeRecipe linear_recipe(const Job& job) {
  MergeRecipe r;
  double sum = 0;
  for (size_t i = 0; i < job.models.size(); ++i) {
    if (!job.models[i].weight) continue;  // a base given only for config and tokenizer
    r.models.push_back(i);
    sum += *job.models[i].weight;
  }
  // Weights are combined in double and rounded once to float, so the kernel's
  // float32 arithmetic starts from the closest representable weights.
  for (size_t i : r.models) {
    const double w = *job.models[i].weight;
    r.weights.push_back(static_cast<float>(job.normalize ? w / sum : w));
  }
  if (!job.normalize && std::abs(sum - 1.0) > 1e-6) {
    std::ostringstream w;
    w << "linear weights sum to " << sum << ", not 1 (normalize: false), so the merge rescales "
      << "every tensor";
    r.warnings.push_back(w.str());
  }
  return r;
}

// LM-Cocktail, paper Eq. 3: alpha * target + (1 - alpha) * base.
MergeRecipe mono_specialist_recipe(const Job& job) {
  MergeRecipe r;
  for (size_t i = 0; i < job.models.size(); ++i) {
    if (job.models[i].role == ModelRole::Base) {
      r.models.push_back(i);
      r.weights.push_back(static_cast<float>(1.0 - job.alpha));
    } else if (job.models[i].role == ModelRole::Target) {
      r.models.push_back(i);
      r.weights.push_back(static_cast<float>(job.alpha));
    }
  }
  return r;
}

}  // namespace

MergeRecipe make_recipe(const Job& job) {
  switch (job.method) {
    case MergeMethod::Linear: return linear_recipe(job);
    case MergeMethod::LmCocktail: return mono_specialist_recipe(job);
  }
  throw Error("unknown merge method");
}

std::string method_name(MergeMethod method) {
  return method == MergeMethod::Linear ? "linear" : "lm_cocktail";
}

}  // namespace cocktail
