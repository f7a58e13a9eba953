#pragma once
// Where the arithmetic of a work unit runs: the CPU kernels on the compute
// threads, or a GPU. The stream engine decides the order of reads, sums and
// writes; a ChunkCompute owns the host buffers the inputs pass through (and
// the outputs, but where writes_any_memory() says it may write elsewhere)
// and the sum itself, which may finish after start() returns.
//
// Slots are the engine's ring positions: a slot's start() is never called
// again before its previous unit was waited for and finished.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "io/lora_delta.hpp"
#include "merge/tensor_method.hpp"
#include "weighted_sum.hpp"

namespace cocktail {

struct HostFree {
  void (*release)(std::byte*) = nullptr;
  void operator()(std::byte* p) const { release(p); }
};
using HostBuffer = std::unique_ptr<std::byte[], HostFree>;

class ChunkCompute {
 public:
  virtual ~ChunkCompute() = default;

  // Host memory for a slot's inputs and output (page-locked for a GPU, so
  // copies run asynchronously at full bus speed).
  virtual HostBuffer host_buffer(size_t bytes) = 0;

  // Begins out = weighted sum of `in` (host pointers into this slot's
  // buffers). `nonfinite` (in.size() + 1 counters, see weighted_sum) is
  // added to by the time finish(slot) returns.
  virtual void start(size_t slot, std::span<const WeightedInput> in, std::byte* out, DType out_dtype,
                     size_t n, uint64_t* nonfinite) = 0;

  // Begins out = method.apply(unit, in): a method of src/merge/methods/.
  // The CPU runs it before returning; a GPU build without that method's
  // kernel throws cocktail::Error.
  virtual void start_method(size_t slot, const TensorMethod& method, const WorkUnit& unit, UnitInputs in,
                            std::byte* out, uint64_t* nonfinite) = 0;

  // Adds a unit to method.state(pass, unit.tensor), as method.accumulate
  // does (the statistics passes); done when it returns.
  virtual void accumulate(int pass, TensorMethod& method, const WorkUnit& unit, UnitInputs in) = 0;

  // Whether LoRA updates are added here, after the inputs are uploaded (on
  // the GPU, where the product is cheap): then the readers leave them out
  // and the engine passes them to set_updates. The CPU adds them as it reads.
  virtual bool adds_lora_updates() const { return false; }

  // The updates of the slot's next start() or start_method(), which uses
  // them up.
  virtual void set_updates(size_t /*slot*/, std::vector<LoraUpdate> /*updates*/) {}

  // Whether start() and start_method() take any host memory as `out` and
  // have written it when they return (the CPU): the engine then hands them
  // the output file's own window. A GPU copies into its page-locked
  // host_buffer.
  virtual bool writes_any_memory() const { return false; }

  // Blocks until the slot's output is in host memory. Any thread; repeatable.
  virtual void wait(size_t slot) = 0;

  // wait(slot), then settles its counters. Engine thread only; repeatable.
  virtual void finish(size_t slot) = 0;

  virtual const char* name() const = 0;  // for the summary: "cpu (avx512)", "cuda:0"
};

struct ComputeSizes {
  size_t slots = 0;
  size_t max_models = 0;       // summed inputs of the largest unit
  uint64_t max_in_bytes = 0;   // one input of the largest unit
  uint64_t max_out_bytes = 0;  // its output
};

// Where a rank computes: CUDA device `gpu` (>= 0), the CPU kernels
// (kCpu), or the GPU path's code run on the CPU (kEmulatedGpu, see
// make_emulated_compute).
constexpr int kCpu = -1;
constexpr int kEmulatedGpu = -2;
std::unique_ptr<ChunkCompute> make_compute(int gpu, int threads, const ComputeSizes& sizes);

// Page-aligned host memory (vector loads, O_DIRECT-friendly), for the
// ChunkComputes that do not need page-locked memory.
HostBuffer aligned_host_buffer(size_t bytes);

// The CPU kernels on `threads` threads; start() computes before returning.
std::unique_ptr<ChunkCompute> make_cpu_compute(int threads);

// GPU `device`: one CUDA stream and device buffers per slot, so device memory
// is slots x (max_models x max_in_bytes + max_out_bytes). It comes from the
// CUDA module (gpu/load_cuda.cpp); throws cocktail::Error when there is none
// or the device fails.
std::unique_ptr<ChunkCompute> make_cuda_compute(int device, const ComputeSizes& sizes);

// The GPU path's code (device descriptions, kernels' per-element functions)
// on the CPU, one element at a time: the bytes a GPU gives, without one.
std::unique_ptr<ChunkCompute> make_emulated_compute();

}  // namespace cocktail
