#pragma once
// The merge's work: every tensor cut into element ranges no larger than the
// chunk, then consecutive runs of ranges given to ranks balanced by the bytes
// they move. Pure functions of the plan, so every rank computes the same
// assignment without talking to the others.
#include <cstdint>
#include <vector>

#include "plan/tensor_plan.hpp"

namespace cocktail {

struct WorkUnit {
  uint32_t tensor = 0;
  uint64_t first = 0;  // first element
  uint64_t count = 0;  // elements
};

// Bytes read plus bytes written by a unit.
uint64_t unit_cost(const WorkUnit& u, const PlannedTensor& t);
uint64_t unit_read_bytes(const WorkUnit& u, const PlannedTensor& t);
uint64_t unit_write_bytes(const WorkUnit& u, const PlannedTensor& t);
// Elements per unit for a tensor: each input range and the output range fit
// in `chunk_size` bytes.
uint64_t unit_elements(const PlannedTensor& t, uint64_t chunk_size);

std::vector<WorkUnit> make_work_units(const std::vector<PlannedTensor>& tensors,
                                      uint64_t chunk_size);

// rank r owns units [bounds[r], bounds[r + 1]); bounds has ranks + 1 entries.
// A unit goes to the rank whose equal share of the total cost holds the
// unit's midpoint, which keeps every rank within one unit of the mean; with
// fewer units than ranks, the trailing ranks stay idle.
std::vector<size_t> assign_units(const std::vector<WorkUnit>& units,
                                 const std::vector<PlannedTensor>& tensors, int ranks);

}  // namespace cocktail
