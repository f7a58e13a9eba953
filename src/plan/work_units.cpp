#include "plan/work_units.hpp"

#include <algorithm>

namespace cocktail {

uint64_t unit_read_bytes(const WorkUnit& u, const PlannedTensor& t) {
  uint64_t per_element = 0;
  for (const auto& s : t.sources) per_element += dtype_size(s.tensor->info.dtype);
  return u.count * per_element;
}

uint64_t unit_write_bytes(const WorkUnit& u, const PlannedTensor& t) { return u.count * dtype_size(t.out_dtype); }

uint64_t unit_cost(const WorkUnit& u, const PlannedTensor& t) { return unit_read_bytes(u, t) + unit_write_bytes(u, t); }

uint64_t unit_elements(const PlannedTensor& t, uint64_t chunk_size) {
  uint64_t widest = dtype_size(t.out_dtype);
  for (const auto& s : t.sources) widest = std::max<uint64_t>(widest, dtype_size(s.tensor->info.dtype));
  const uint64_t step = std::max<uint64_t>(1, chunk_size / widest);
  // A unit may exceed the chunk only to hold one aligned block (a row).
  return std::max(t.unit_alignment, step / t.unit_alignment * t.unit_alignment);
}

std::vector<WorkUnit> make_work_units(const std::vector<PlannedTensor>& tensors,
                                      uint64_t chunk_size) {
  std::vector<WorkUnit> units;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t step = unit_elements(tensors[i], chunk_size);
    for (uint64_t first = 0; first < tensors[i].numel; first += step)
      units.push_back({static_cast<uint32_t>(i), first, std::min(step, tensors[i].numel - first)});
  }
  return units;
}

std::vector<size_t> assign_units(const std::vector<WorkUnit>& units,
                                 const std::vector<PlannedTensor>& tensors, int ranks) {
  unsigned __int128 total = 0;
  for (const auto& u : units) total += unit_cost(u, tensors[u.tensor]);

  std::vector<size_t> bounds(ranks + 1, units.size());
  bounds[0] = 0;
  unsigned __int128 before = 0;
  int rank = 0;
  for (size_t i = 0; i < units.size(); ++i) {
    const uint64_t cost = unit_cost(units[i], tensors[units[i].tensor]);
    // 128-bit so cost * ranks cannot overflow for multi-terabyte jobs.
    const unsigned __int128 mid2 = 2 * before + cost;  // twice the midpoint
    // Capped at the unit's index: with fewer units than ranks the work packs
    // onto the first ranks, so rank 0 (which reports progress) always has some.
    const size_t by_cost = total ? static_cast<size_t>(mid2 * ranks / (2 * total)) : 0;
    const int owner = static_cast<int>(std::min(by_cost, i));
    while (rank < std::min(owner, ranks - 1)) bounds[++rank] = i;
    before += cost;
  }
  return bounds;
}

}  // namespace cocktail
