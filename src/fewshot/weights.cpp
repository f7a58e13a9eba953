#include "fewshot/weights.hpp"

#include <algorithm>
#include <cmath>

namespace cocktail {

double loss_over(const std::vector<BatchPartial>& partials, size_t candidate, size_t batches, size_t first,
                 size_t count, LossReduction reduction) {
  double sum = 0, tokens = 0, mean_of_means = 0;
  for (size_t b = first; b < first + count; ++b) {
    const BatchPartial& p = partials[candidate * batches + b];
    sum += p.loss_sum;
    tokens += p.count;
    mean_of_means += p.loss_sum / p.count;
  }
  return reduction == LossReduction::Upstream ? mean_of_means / static_cast<double>(count) : sum / tokens;
}

std::vector<double> candidate_losses(const std::vector<BatchPartial>& partials, size_t candidates,
                                     LossReduction reduction) {
  std::vector<double> losses(candidates, 0.0);
  if (candidates == 0) return losses;
  const size_t batches = partials.size() / candidates;
  for (size_t c = 0; c < candidates; ++c) losses[c] = loss_over(partials, c, batches, 0, batches, reduction);
  return losses;
}

BatchSplit BatchSplit::of(size_t batches, double held_out_fraction) {
  if (held_out_fraction <= 0 || batches < 2) return {batches, 0};
  const auto held = std::min(batches - 1, static_cast<size_t>(std::ceil(held_out_fraction * static_cast<double>(batches))));
  return {batches - held, held};
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
