#pragma once
// The statistics passes of a merge method, before the merge streams. Each
// rank reads only its own units (the plan's assignment), so memory stays a
// unit per source, and:
//  - a tensor whose units all sit on this rank is done alone, pass after
//    pass, with no communication, its state freed when its last pass ends;
//  - a tensor split across ranks (at most ranks - 1 of them) has each pass
//    accumulated by every rank that holds part of it, then its integer state
//    summed over all ranks, before the next pass.
// Statistics are not journaled: a resumed job computes them again.
#include <cstdint>
#include <functional>
#include <vector>

#include "dist/comm.hpp"
#include "io/checkpoint.hpp"
#include "merge/chunk_compute.hpp"
#include "merge/tensor_method.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

struct StatisticsOptions {
  int gpu = kCpu;  // as StreamOptions::gpu
  int compute_threads = 1;
  int io_threads = 2;
  FailureFlag* failed = nullptr;  // raised by a rank that fails in its local passes
};

// Called between units with the bytes read so far on this rank; may throw
// to stop (a signal, another rank's failure).
using StatisticsProgress = std::function<void(uint64_t bytes_read)>;

// Tensors with units on more than one rank, in plan order.
std::vector<size_t> split_tensors(const MergePlan& plan);

// Bytes this rank reads in all passes at most, for progress: every pass
// over every tensor some pass reads (later passes may skip some).
uint64_t statistics_read_bytes(const TensorMethod& method, const MergePlan& plan, int rank);

// Collective: every rank calls it with the same plan and method. Throws
// JobFailed (the same on every rank) when a rank fails.
void run_statistics(Comm& comm, TensorMethod& method, const MergePlan& plan, const std::vector<Checkpoint>& models,
                    const StatisticsOptions& options, const StatisticsProgress& progress);

}  // namespace cocktail
