#include "plan/merge_plan.hpp"

#include <algorithm>
#include <numeric>

#include "core/error.hpp"
#include "io/json_strict.hpp"
#include "io/lora_adapter.hpp"
#include "plan/sliced_tensors.hpp"
#include "vocab/output_vocabulary.hpp"

namespace cocktail {

uint64_t MergePlan::output_offset(const WorkUnit& unit) const {
  return layout.file_offset[unit.tensor] + unit.first * dtype_size(tensors[unit.tensor].out_dtype);
}

std::map<size_t, std::pair<uint64_t, uint64_t>> MergePlan::rank_output_ranges(int rank) const {
  std::map<size_t, std::pair<uint64_t, uint64_t>> ranges;
  for (size_t u = rank_bounds[rank]; u < rank_bounds[rank + 1]; ++u) {
    const WorkUnit& unit = units[u];
    const uint64_t first = output_offset(unit);
    auto [it, fresh] = ranges.try_emplace(layout.shard_of[unit.tensor], first, first);
    it->second.second = first + unit_write_bytes(unit, tensors[unit.tensor]);
  }
  return ranges;
}

uint64_t MergePlan::rank_cost(int rank) const {
  uint64_t bytes = 0;
  for (size_t u = rank_bounds[rank]; u < rank_bounds[rank + 1]; ++u)
    bytes += unit_cost(units[u], tensors[units[u].tensor]);
  return bytes;
}

uint64_t MergePlan::rank_read_bytes(int rank) const {
  uint64_t bytes = 0;
  for (size_t u = rank_bounds[rank]; u < rank_bounds[rank + 1]; ++u)
    bytes += unit_read_bytes(units[u], tensors[units[u].tensor]);
  return bytes;
}

uint64_t MergePlan::total_read_bytes() const {
  uint64_t bytes = 0;
  for (const auto& t : tensors)
    for (const auto& s : t.sources) bytes += s.tensor->info.nbytes();
  return bytes;
}

namespace {

// FNV-1a, 64-bit.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* data, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ull;
  }
  void add(uint64_t v) { add(&v, sizeof v); }
};

}  // namespace

uint64_t plan_fingerprint(const MergePlan& plan) {
  Fnv f;
  f.add(static_cast<uint64_t>(plan.layout.format));
  for (const auto& shard : plan.layout.shards) {
    f.add(shard.file_name.data(), shard.file_name.size());
    f.add(shard.header.data(), shard.header.size());
  }
  for (const auto& t : plan.tensors)
    for (const auto& s : t.sources) {
      f.add(s.model);
      f.add(s.tensor->file);
      f.add(s.tensor->file_offset());
      f.add(static_cast<uint64_t>(s.tensor->info.dtype));
      if (const LoraFactors* l = s.tensor->lora.get()) {
        f.add(l->a.file_offset());
        f.add(l->b.file_offset());
        f.add(l->rank);
        f.add(&l->scale, sizeof l->scale);
      }
    }
  for (const auto& t : plan.tensors)
    if (t.vocabulary) {
      f.add(t.vocabulary->fingerprint());
      break;  // one vocabulary for the job
    }
  // Units, not their ranks: a resumed job may run at another rank count.
  for (const WorkUnit& u : plan.units) {
    f.add(u.tensor);
    f.add(u.first);
    f.add(u.count);
  }
  return f.h;
}

MergePlan make_merge_plan(const std::vector<Checkpoint>& models, const PlanOptions& options) {
  MergePlan plan;
  plan.tensors = options.slices && !options.slices->empty()
                     ? plan_sliced_tensors(models, *options.slices, options.summed, options.slice_models_may_differ,
                                           options.out_dtype)
                     : plan_tensors(models, options.reference, options.summed, options.out_dtype, options.vocabulary);
  if (options.unit_alignment)
    for (auto& t : plan.tensors) t.unit_alignment = std::max<uint64_t>(1, options.unit_alignment(t));
  // Token rows are read one by one: a unit holds whole rows.
  for (auto& t : plan.tensors) {
    const bool adapted = std::any_of(t.sources.begin(), t.sources.end(), [](const TensorSource& s) { return s.tensor->lora != nullptr; });
    if (t.vocabulary && adapted)
      throw Error("tensor " + quote_name(t.name) +
                  ": a LoRA adapter updates it and the tokenizer choice re-maps its rows, which is not supported; "
                  "merge that adapter into its base first, or keep one vocabulary");
    if (t.vocabulary) t.unit_alignment = std::lcm(t.unit_alignment, t.numel / t.shape[0]);
  }
  plan.layout = options.format == OutputFormat::Keras ? make_keras_layout(plan.tensors, options.max_shard_size)
                                                     : make_output_layout(plan.tensors, options.max_shard_size, options.metadata);
  plan.units = make_work_units(plan.tensors, options.chunk_size);
  plan.rank_bounds = assign_units(plan.units, plan.tensors, options.ranks);
  return plan;
}

}  // namespace cocktail
