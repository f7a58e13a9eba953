#pragma once
// What a merge method of src/merge/methods/ gives the streaming engine, once
// its parameters are resolved for every tensor:
//  - statistics: passes over the inputs before the merge. Each pass adds a
//    unit's contribution to an integer state per tensor; for a tensor split
//    across ranks the engine sums the states of every rank (integers, so in
//    any order the same), then finish() turns the state into what the next
//    pass or the apply needs.
//  - apply: the merged values of a unit, given the statistics.
// The engine (merge/statistics.cpp, merge/stream_merge.cpp) decides which
// rank reads what, in which order, and when states are summed.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "plan/work_units.hpp"
#include "task_vector_unit.hpp"

namespace cocktail {

// A unit's inputs: one buffer per source of the planned tensor, in source
// order, holding unit.count elements of that source's dtype.
using UnitInputs = std::span<const std::byte* const>;

class TensorMethod {
 public:
  virtual ~TensorMethod() = default;

  // Passes over the inputs before the merge (0: none).
  virtual int passes() const = 0;
  // Whether `pass` reads `tensor`; decided by the earlier passes, so the
  // answer is the same on every rank.
  virtual bool reads(int pass, size_t tensor) const = 0;
  // The integer state of (pass, tensor), zeros at first; its size depends
  // only on the plan.
  virtual std::span<uint64_t> state(int pass, size_t tensor) = 0;
  // Adds a unit of `tensor` to state(pass, tensor). May use the pool.
  virtual void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) = 0;
  // The state holds every rank's contribution; keep the result, free the state.
  virtual void finish(int pass, size_t tensor) = 0;

  // out = the unit's merged values in the tensor's output dtype. nonfinite
  // (sources + 1 counters) gets NaN/Inf read per source and written.
  // Not called for a method that is weighted_by_tensor().
  virtual void apply(const WorkUnit&, UnitInputs, std::byte*, ThreadPool&, uint64_t*) const {
    throw Error("internal: this method merges by tensor_weights()");
  }

  // A method whose merged values are a weighted sum of the tensor's sources,
  // the weights fixed per tensor by its statistics (slerp): the engine then
  // runs the weighted-sum kernels, on the CPU or a GPU, with
  // tensor_weights(tensor) (one per source, after the passes).
  virtual bool weighted_by_tensor() const { return false; }
  virtual std::vector<float> tensor_weights(size_t) const { return {}; }

  // The GPU path (kernels/task_vector_unit.hpp): a unit's apply, and its
  // share of a pass, as the data the device kernels read; the same bytes
  // and the same state as apply() and accumulate(). A method without
  // device kernels keeps these defaults, and device: auto runs it on the CPU.
  virtual bool has_device_kernels() const { return false; }
  virtual TaskVectorUnit device_unit(const WorkUnit&) const { throw Error("internal: no device kernel"); }
  virtual TaskVectorStats device_statistics(int, const WorkUnit&) const { throw Error("internal: no device kernel"); }
};

}  // namespace cocktail
