#pragma once
// The per-rank streaming engine. It walks the rank's work units in order with
// a ring of `prefetch + 2` buffer slots: reads of the next units run on the
// I/O pool while the current unit is summed (on the CPU compute threads, or
// enqueued on the slot's CUDA stream), and the previous unit's write drains
// behind them in a slot of its own. Memory is the ring, never the model:
// slots x (summed models + 1) x chunk bytes of host memory, and as much
// device memory on a GPU.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/checkpoint.hpp"
#include "io/journal.hpp"
#include "merge/recipe.hpp"
#include "merge/tensor_method.hpp"
#include "merge/chunk_compute.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

// The buffers the units [begin, end) of `plan` need: sources, and the
// bytes of the largest input and output (slots left 0).
ComputeSizes unit_sizes(const MergePlan& plan, size_t begin, size_t end);

struct StreamOptions {
  int compute_threads = 1;
  int io_threads = 2;
  int prefetch = 2;
  bool direct_writes = true;  // io/output_file.hpp
  int gpu = kCpu;  // CUDA device that computes, kCpu or kEmulatedGpu (merge/chunk_compute.hpp)
  // A method of src/merge/methods/ (after its statistics); null: the
  // recipe's weighted sum.
  const TensorMethod* method = nullptr;
  // Test hook (fault injection): called with "read" once a unit's inputs are
  // in memory and with "written" once its output is written, before its
  // journal record; it may kill the process. Null in normal runs.
  std::function<void(const char* point, size_t unit)> fault;
};

// Where a rerun picks up: the journal's records. This rank's recorded units
// whose bytes in the output still match are skipped, their recorded
// statistics counted; every unit it writes is recorded in `journal`. A
// record's statistics are resume_stats(recipe) counts: NaN/Inf read per
// summed model, NaN/Inf written, then 1 if an integer unit differs.
struct Resume {
  std::unordered_map<uint64_t, UnitRecord> recorded;
  Journal* journal = nullptr;
};

inline size_t resume_stats(const MergeRecipe& recipe) { return recipe.models.size() + 2; }

struct StreamStats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t units = 0;          // computed and written by this run
  uint64_t skipped_units = 0;  // already in the output (resume)
  uint64_t skipped_bytes = 0;  // their input bytes
  std::string compute;  // where the sums ran: "cpu (avx512)", "cuda:0"
  // NaN/Inf elements per tensor: [tensor * (S + 1) + s] counts those read
  // from summed model s (S = recipe.models.size()), [tensor * (S + 1) + S]
  // those written (inputs that were, and sums the output dtype cannot hold).
  std::vector<uint64_t> nonfinite;
  // Per tensor: 1 when an integer tensor differs from the reference model's.
  std::vector<uint8_t> differs;
};

// Called on the calling thread after each unit with the input bytes of the
// units finished so far on this rank (skipped ones included). It may throw
// to stop the merge.
using ProgressFn = std::function<void(uint64_t bytes_read)>;

// Runs units [plan.rank_bounds[rank], plan.rank_bounds[rank + 1]) and writes
// them into the shard files already created in `out_dir`. Throws
// cocktail::Error naming the file on any I/O failure, or when an input file
// changed (size or mtime) while it was being read.
StreamStats stream_merge(const MergePlan& plan, const std::vector<Checkpoint>& models,
                         const MergeRecipe& recipe, const std::filesystem::path& out_dir,
                         int rank, const StreamOptions& options, const Resume& resume,
                         const ProgressFn& progress);

}  // namespace cocktail
