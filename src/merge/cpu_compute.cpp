// The CPU ChunkCompute: the vector kernels over the compute pool.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "merge/chunk_compute.hpp"

namespace cocktail {
namespace {

class CpuCompute : public ChunkCompute {
 public:
  explicit CpuCompute(int threads) : pool_(threads), name_(std::string("cpu (") + weighted_sum_isa() + ")") {}

  HostBuffer host_buffer(size_t bytes) override { return aligned_host_buffer(bytes); }
  bool writes_any_memory() const override { return true; }

  // Threads take disjoint element ranges; no output byte depends on the split.
  void start(size_t, std::span<const WeightedInput> in, std::byte* out, DType out_dtype, size_t n,
             uint64_t* nonfinite) override {
    std::mutex counts_mu;
    pool_.parallel_for(n, [&](size_t first, size_t last) {
      std::vector<WeightedInput> part(in.begin(), in.end());
      for (auto& p : part) p.data = static_cast<const std::byte*>(p.data) + first * dtype_size(p.dtype);
      std::vector<uint64_t> local(in.size() + 1, 0);
      weighted_sum(part, out + first * dtype_size(out_dtype), out_dtype, last - first, local.data());
      std::lock_guard lock(counts_mu);
      for (size_t s = 0; s < local.size(); ++s) nonfinite[s] += local[s];
    });
  }

  void start_method(size_t, const TensorMethod& method, const WorkUnit& unit, UnitInputs in, std::byte* out,
                    uint64_t* nonfinite) override {
    method.apply(unit, in, out, pool_, nonfinite);
  }

  void accumulate(int pass, TensorMethod& method, const WorkUnit& unit, UnitInputs in) override {
    method.accumulate(pass, unit, in, pool_);
  }

  void wait(size_t) override {}
  void finish(size_t) override {}
  const char* name() const override { return name_.c_str(); }

 private:
  ThreadPool pool_;
  std::string name_;
};

}  // namespace

HostBuffer aligned_host_buffer(size_t bytes) {
  constexpr size_t a = 4096;
  void* p = std::aligned_alloc(a, (std::max<size_t>(bytes, 1) + a - 1) / a * a);
  if (!p) throw std::bad_alloc();
  return HostBuffer(static_cast<std::byte*>(p), HostFree{[](std::byte* b) { std::free(b); }});
}

std::unique_ptr<ChunkCompute> make_cpu_compute(int threads) { return std::make_unique<CpuCompute>(threads); }

std::unique_ptr<ChunkCompute> make_compute(int gpu, int threads, const ComputeSizes& sizes) {
  if (gpu >= 0) return make_cuda_compute(gpu, sizes);
  if (gpu == kEmulatedGpu) return make_emulated_compute();
  return make_cpu_compute(threads);
}

}  // namespace cocktail
