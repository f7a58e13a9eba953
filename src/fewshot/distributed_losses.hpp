#pragma once
// Few-shot losses across ranks. Each rank evaluates its items of the loss
// plan (a candidate and a run of its batches) and fills their partials; one
// all-reduce gives every rank every partial. Each partial is computed by
// exactly one rank and summed with zeros elsewhere, so every rank sees the
// same bits at any rank count, hence the same weights.
#include <functional>
#include <vector>

#include "dist/comm.hpp"
#include "fewshot/weights.hpp"

namespace cocktail {

// Partials of batches [first_batch, first_batch + batch_count) of `candidate`:
// the model-specific part (tokenised batches through a layer-streamed forward).
using BatchEvaluator = std::function<std::vector<BatchPartial>(
    size_t candidate, size_t first_batch, size_t batch_count)>;

// This rank's share, [candidate * batches + batch], zero where another rank
// evaluates. No communication, so it can run inside a collective_step.
std::vector<BatchPartial> local_partials(size_t candidates, size_t batches, int ranks, int rank,
                                         const BatchEvaluator& evaluate);

// Sums the shares of all ranks in place.
void allreduce_partials(Comm& comm, std::vector<BatchPartial>& partials);

}  // namespace cocktail
