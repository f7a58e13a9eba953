#pragma once
// Who evaluates what. A work item is a candidate model with a run of
// consecutive batches; a rank streams a candidate's layers once for all its
// batches, so the plan gives each candidate to as few ranks as possible:
// whole candidates when there are at least as many as ranks, else a group of
// ranks per candidate that split its batches. Every rank computes the same
// plan without communication.
#include <cstddef>
#include <vector>

namespace cocktail {

struct LossItem {
  size_t candidate = 0;
  size_t first_batch = 0, batch_count = 0;
};

// Items of `rank`, in candidate order; empty when the rank has nothing to do.
std::vector<LossItem> loss_items_for_rank(size_t candidates, size_t batches, int ranks, int rank);

}  // namespace cocktail
