#pragma once
// How the few-shot step chooses the candidates' weights beyond LM-Cocktail's
// softmax: a search of the weights against the merged model's loss (the
// paper's LM-Cocktail_blackbox, LoraHub's objective), or a greedy soup.
#include <cstdint>
#include <string>

namespace cocktail {

enum class WeightChoice {
  Softmax,     // softmax(-L_i / T) of each candidate's own loss (LM-Cocktail)
  Search,      // gradient-free search of the weights against the merged model's loss
  GreedySoup,  // candidates added by their own loss while the soup's loss improves
};

// NLopt's derivative-free algorithms, by the names search.algorithm takes
// (src/search/weight_choice.cpp maps them): local ones from the uniform
// recipe, then the global ones, which draw from search.seed.
inline constexpr const char* kSearchAlgorithms[] = {"cobyla", "bobyqa", "neldermead", "sbplx",
                                                    "praxis", "crs2",   "isres",      "esch"};

struct SearchSettings {
  std::string algorithm = "cobyla";
  int budget = 40;  // evaluations of the merged model (LoraHub's default step count)
  // Bounds of every weight: [0, 1] on the simplex, LoraHub's [-1.5, 1.5] off it.
  double lower = 0, upper = 1;
  bool bounds_given = false;
  // Weights on the simplex (each >= 0, summing to 1): the constraint the
  // paper found LM-Cocktail_blackbox missing. Off, the weights are free
  // within the bounds, as LoraHub's.
  bool simplex = true;
  double l1 = 0.05;  // LoraHub's objective: loss + l1 * mean |w|
  uint64_t seed = 0;  // the stochastic algorithms' (crs2, isres, esch) draws
  // Weights per contiguous group of decoder layers (model/mixture_source's
  // layer_group_begin), the embeddings with the first group and the final
  // norm and output with the last, as mergekit's slices merge them.
  int layer_groups = 1;
  // search.density: [lower, upper]: one density per candidate searched
  // beside its weight, for a method with a density parameter (ties, dare_*,
  // della, breadcrumbs); from the middle of the bounds.
  bool density_searched = false;
  double density_lower = 0, density_upper = 1;
};

}  // namespace cocktail
