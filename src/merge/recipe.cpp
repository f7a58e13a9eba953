#include "merge/recipe.hpp"

#include <algorithm>
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

// LM-Cocktail. Without examples, Eq. 3: alpha * target + (1 - alpha) * base.
// With examples, the candidates' weights w_i come from their losses:
// alpha * target + (1 - alpha) * sum w_i M_i (Eq. 1), or sum w_i M_i with no
// target (Eq. 4). The authors apply Eq. 1 as two merges; one pass gives the
// same sum with one rounding instead of two.
MergeRecipe lm_cocktail_recipe(const Job& job, const std::vector<double>& candidate_weights) {
  MergeRecipe r;
  const std::vector<size_t> candidates = job.candidates();
  if (candidates.size() != candidate_weights.size())
    throw Error("lm_cocktail: " + std::to_string(candidates.size()) + " candidates but " +
                std::to_string(candidate_weights.size()) + " weights");
  const double rest = job.has_target() ? 1.0 - job.alpha : 1.0;
  for (size_t i = 0; i < job.models.size(); ++i) {
    double w;
    if (job.models[i].role == ModelRole::Target) {
      w = job.alpha;
    } else if (!job.fewshot) {
      w = 1.0 - job.alpha;  // the base, Eq. 3
    } else {
      const size_t c = std::find(candidates.begin(), candidates.end(), i) - candidates.begin();
      w = rest * candidate_weights[c];
    }
    r.models.push_back(i);
    r.weights.push_back(static_cast<float>(w));
  }
  return r;
}

}  // namespace

MergeRecipe make_recipe(const Job& job, const std::vector<double>& candidate_weights) {
  switch (job.method) {
    case MergeMethod::Linear: return linear_recipe(job);
    case MergeMethod::LmCocktail: return lm_cocktail_recipe(job, candidate_weights);
    case MergeMethod::Registered: break;  // the method's own sources and parameters
  }
  throw Error("unknown merge method");
}


}  // namespace cocktail
