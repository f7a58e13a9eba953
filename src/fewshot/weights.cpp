#include "fewshot/weights.hpp"

#include <algorithm>
#include <cmath>

namespace cocktail {

std::vector<double> candidate_losses(const std::vector<BatchPartial>& partials, size_t candidates,
                                     LossReduction reduction) {
  std::vector<double> losses(candidates, 0.0);
  if (candidates == 0) return losses;
  const size_t batches = partials.size() / candidates;
  for (size_t c = 0; c < candidates; ++c) {
    double sum = 0, count = 0, mean_of_means = 0;
    for (size_t b = 0; b < batches; ++b) {
      const BatchPartial& p = partials[c * batches + b];
      sum += p.loss_sum;
      count += p.count;
      mean_of_means += p.loss_sum / p.count;
    }
    losses[c] = reduction == LossReduction::Upstream ? mean_of_means / static_cast<double>(batches)
                                                     : sum / count;
  }
  return losses;
}

std::vector<double> softmax_weights(const std::vector<double>& losses, double temperature) {
  std::vector<double> w(losses.size());
  if (losses.empty()) return w;
  const double best = *std::min_element(losses.begin(), losses.end());
  double total = 0;
  for (size_t i = 0; i < losses.size(); ++i) total += w[i] = std::exp(-(losses[i] - best) / temperature);
  for (double& x : w) x /= total;
  return w;
}

}  // namespace cocktail
