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

// The batches that choose the weights, and the held-out ones after them.
struct BatchSplit {
  size_t train = 0, held_out = 0;
  // The last ceil(fraction * batches) batches, leaving at least one to choose with.
  static BatchSplit of(size_t batches, double held_out_fraction);
};

// The loss of `candidate` over batches [first, first + count) of
// partials[c * batches + b]; every batch must have count > 0.
double loss_over(const std::vector<BatchPartial>& partials, size_t candidate, size_t batches, size_t first,
                 size_t count, LossReduction reduction);

// partials[c * batches + b]; every batch must have count > 0.
std::vector<double> candidate_losses(const std::vector<BatchPartial>& partials, size_t candidates,
                                     LossReduction reduction);

// In double, shifted by the smallest loss so exp cannot overflow.
std::vector<double> softmax_weights(const std::vector<double>& losses, double temperature);

}  // namespace cocktail
