#pragma once
// Everything decided before data moves: tensors, output layout, work units
// and their ranks. Every rank builds the identical plan from the same headers.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/job.hpp"
#include "plan/output_layout.hpp"
#include "plan/tensor_plan.hpp"
#include "plan/work_units.hpp"

namespace cocktail {

struct MergePlan {
  std::vector<PlannedTensor> tensors;
  OutputLayout layout;
  std::vector<WorkUnit> units;
  std::vector<size_t> rank_bounds;  // ranks + 1 entries

  // Absolute byte offset of a unit's first element in its output shard.
  uint64_t output_offset(const WorkUnit& unit) const;
  // The bytes a rank writes, per shard: one [first, last) range each, since a
  // rank's units are consecutive in output order.
  std::map<size_t, std::pair<uint64_t, uint64_t>> rank_output_ranges(int rank) const;
  uint64_t rank_cost(int rank) const;        // bytes read + written by a rank
  uint64_t rank_read_bytes(int rank) const;  // bytes read by a rank
  uint64_t total_read_bytes() const;         // over all ranks
};

struct PlanOptions {
  size_t reference = 0;
  std::vector<size_t> summed;
  std::optional<DType> out_dtype;
  uint64_t max_shard_size = 5'000'000'000;
  OutputFormat format = OutputFormat::Safetensors;
  uint64_t chunk_size = 1ull << 20;
  int ranks = 1;
  std::map<std::string, std::string> metadata;  // written into every shard header
  // mergekit's slices (plan/sliced_tensors.hpp); null or empty: every
  // tensor of the reference model, from every summed model.
  const std::vector<Slice>* slices = nullptr;
  bool slice_models_may_differ = false;  // passthrough: each slice its own model
  // Models of different vocabularies: the output's (vocab/), which the
  // token-indexed tensors are re-mapped to; null = one shared vocabulary.
  const OutputVocabulary* vocabulary = nullptr;
  // The merge method's PlannedTensor::unit_alignment; null = 1 everywhere.
  std::function<uint64_t(const PlannedTensor&)> unit_alignment;
};

// A hash of everything that decides where bytes are read and written (not
// which rank does what), to check that every rank built the same plan and
// that a journal belongs to this job.
uint64_t plan_fingerprint(const MergePlan& plan);

MergePlan make_merge_plan(const std::vector<Checkpoint>& models, const PlanOptions& options);

}  // namespace cocktail
