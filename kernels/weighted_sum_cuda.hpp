#pragma once
// The CUDA fused K-way weighted sum: the same bytes as the CPU weighted_sum
// (weighted_sum_group.hpp holds the per-thread code both are tested with).
#include <cuda_runtime.h>

#include "weighted_sum_group.hpp"

namespace cocktail {

// Enqueues out = sum_i weight[i] * in[i] on `stream`. Every pointer in `args`
// is device memory; args.nonfinite has args.models + 1 counters that the
// kernel adds to. `blocks` bounds the grid (a few per SM keeps every SM busy
// while the grid-stride loop amortises the launch). Throws cocktail::Error on
// bad arguments or a launch failure.
void launch_weighted_sum(const SumArgs& args, int blocks, cudaStream_t stream);

}  // namespace cocktail
