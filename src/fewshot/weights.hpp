#pragma once
// From per-batch loss partials to LM-Cocktail's merge weights,
// w_i = softmax(-L_i / T) (paper Eq. 2).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fewshot/loss_reduction.hpp"

namespace cocktail {


struct BatchPartial {
  double loss_sum = 0;  // summed token (or query) losses of one batch
  double count = 0;     // tokens (or queries) scored
};

// partials[c * batches + b]; every batch must have count > 0.
std::vector<double> candidate_losses(const std::vector<BatchPartial>& partials, size_t candidates,
                                     LossReduction reduction);

// In double, shifted by the smallest loss so exp cannot overflow.
std::vector<double> softmax_weights(const std::vector<double>& losses, double temperature);

}  // namespace cocktail
