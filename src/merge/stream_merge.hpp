#pragma once
// The per-rank streaming engine. It walks the rank's work units in order with
// a ring of `prefetch + 1` buffer slots (+1 on a GPU): reads of the next
// units run on the I/O pool while the current unit is summed (on the CPU
// compute threads, or enqueued on the slot's CUDA stream), and the previous
// unit's write drains behind them. Memory is the ring, never the model:
// slots x (summed models + 1) x chunk bytes of host memory, and as much
// device memory on a GPU.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"
#include "merge/recipe.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

struct StreamOptions {
  int compute_threads = 1;
  int io_threads = 2;
  int prefetch = 2;
  int gpu = -1;  // CUDA device that computes the sums; -1 = the CPU
};

struct StreamStats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t units = 0;
  std::string compute;  // where the sums ran: "cpu (avx512)", "cuda:0"
  // NaN/Inf elements per tensor: [tensor * (S + 1) + s] counts those read
  // from summed model s (S = recipe.models.size()), [tensor * (S + 1) + S]
  // those written (inputs that were, and sums the output dtype cannot hold).
  std::vector<uint64_t> nonfinite;
  // Per tensor: 1 when an integer tensor differs from the reference model's.
  std::vector<uint8_t> differs;
};

// Called on the calling thread after each unit with the input bytes of the
// units finished so far on this rank. It may throw to stop the merge.
using ProgressFn = std::function<void(uint64_t bytes_read)>;

// Runs units [plan.rank_bounds[rank], plan.rank_bounds[rank + 1]) and writes
// them into the shard files already created in `out_dir`. Throws
// cocktail::Error naming the file on any I/O failure.
StreamStats stream_merge(const MergePlan& plan, const std::vector<Checkpoint>& models,
                         const MergeRecipe& recipe, const std::filesystem::path& out_dir,
                         int rank, const StreamOptions& options, const ProgressFn& progress);

}  // namespace cocktail
