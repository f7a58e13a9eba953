#include "fewshot/loss_plan.hpp"

namespace cocktail {

std::vector<LossItem> loss_items_for_rank(size_t candidates, size_t batches, int ranks, int rank) {
  std::vector<LossItem> items;
  const size_t r = static_cast<size_t>(rank), n = static_cast<size_t>(ranks);
  if (candidates == 0 || batches == 0) return items;
  if (candidates >= n) {
    // Contiguous blocks of whole candidates.
    for (size_t c = r * candidates / n; c < (r + 1) * candidates / n; ++c)
      items.push_back({c, 0, batches});
    return items;
  }
  // Fewer candidates than ranks: candidate c owns ranks [c*n/C, (c+1)*n/C),
  // at least one each, and they split its batches contiguously.
  for (size_t c = 0; c < candidates; ++c) {
    const size_t lo = c * n / candidates, hi = (c + 1) * n / candidates;
    if (r < lo || r >= hi) continue;
    const size_t group = hi - lo, k = r - lo;
    const size_t first = k * batches / group, last = (k + 1) * batches / group;
    if (last > first) items.push_back({c, first, last - first});
  }
  return items;
}

}  // namespace cocktail
