#pragma once
// The candidates' weights chosen by evaluating merged models (not each
// candidate alone): a gradient-free search of the weights against the merged
// model's few-shot loss (weights: search), or a greedy soup (weights:
// greedy_soup). Both run on every rank in lockstep: every evaluation is
// collective and gives every rank the same bits, so every rank takes the
// same steps and ends with the same weights.
#include <functional>
#include <string>
#include <vector>

#include "fewshot/choice_trace.hpp"
#include "search/merged_loss.hpp"
#include "search/search_settings.hpp"

namespace cocktail {

// Called on every rank after each evaluation, with the step's index.
using StepFn = std::function<void(const WeightChoiceTrace&, size_t step)>;

// Minimises train loss + l1 * mean |w| over at most settings.budget merged
// models with NLopt, from the uniform recipe. On the simplex the variables
// x_i lie in the bounds and the weights are x_i / sum x (uniform if the sum
// is 0).
WeightChoiceTrace search_weights(MergedModelLoss& loss, size_t candidates, const SearchSettings& settings,
                                 const StepFn& on_step);

// Model soups' greedy soup: candidates in order of their own loss
// (`own_loss`, ascending), each added to the uniform soup only when the
// soup's loss (held-out where a split is held out, else training) falls.
WeightChoiceTrace greedy_soup(MergedModelLoss& loss, const std::vector<double>& own_loss,
                              const std::vector<std::string>& names, const StepFn& on_step);

}  // namespace cocktail
