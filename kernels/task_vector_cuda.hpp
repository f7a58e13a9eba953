#pragma once
// The task-vector methods on a CUDA stream: a unit's apply and its share of
// a statistics pass, from the descriptions of task_vector_unit.hpp. Every
// element runs that header's functions; the precomputed masks use CUB (a
// prefix sum of a cut's ties, a segmented sort of DELLA's rows).
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "task_vector_unit.hpp"

namespace cocktail {

// One stream's scratch (masks, scan and sort buffers), grown on demand in
// stream order and reused unit after unit. Not shared between streams.
class TaskVectorDevice {
 public:
  TaskVectorDevice() = default;
  TaskVectorDevice(const TaskVectorDevice&) = delete;
  TaskVectorDevice& operator=(const TaskVectorDevice&) = delete;
  ~TaskVectorDevice();

  // Enqueues out = the unit's merged values. `in` holds models + 1 device
  // pointers (the base first); nonfinite models + 2 device counters, added to.
  void apply(const TaskVectorUnit& u, const void* const* in, void* out, unsigned long long* nonfinite,
             cudaStream_t stream);

  // Enqueues the unit's share of a pass, added to `state` (device memory,
  // laid out as TensorMethod::state of that pass and tensor).
  void statistics(const TaskVectorUnit& u, const TaskVectorStats& s, const void* const* in, uint64_t* state,
                  cudaStream_t stream);

 private:
  struct Scratch {
    void* p = nullptr;
    size_t bytes = 0;
  };
  void* scratch(Scratch& s, size_t bytes, cudaStream_t stream);
  void precompute_masks(const TaskVectorUnit& u, const void* const* in, cudaStream_t stream);

  Scratch masks_, equal_hi_, equal_lo_, flags_, keys_, sorted_, offsets_, temp_;
};

}  // namespace cocktail
