// The CUDA weighted sum against the CPU reference, byte for byte and count
// for count, on every dtype mix, aligned (16-byte vector path) and not
// (per-element path), with lengths that leave every possible tail.
#include <cuda_runtime.h>

#include "gpu/cuda_check.hpp"
#include "gpu_skip.hpp"
#include "kernel_cases.hpp"
#include "weighted_sum_cuda.hpp"

namespace cocktail {
namespace {

struct DeviceBytes {
  void* ptr = nullptr;
  explicit DeviceBytes(size_t bytes) { cuda_check(cudaMalloc(&ptr, bytes + 16), "cudaMalloc"); }
  ~DeviceBytes() { cudaFree(ptr); }
  unsigned char* at(size_t offset) const { return static_cast<unsigned char*>(ptr) + offset; }
};

// Runs the kernel on copies of `c` placed `offset` bytes into device buffers.
void run_on_gpu(Case& c, size_t offset, std::vector<unsigned char>& out, std::vector<unsigned long long>& counts,
                int blocks) {
  std::vector<std::unique_ptr<DeviceBytes>> inputs;
  SumArgs a;
  a.models = static_cast<int>(c.in.size());
  for (size_t i = 0; i < c.in.size(); ++i) {
    const size_t bytes = c.n * dtype_size(c.in[i].dtype);
    inputs.push_back(std::make_unique<DeviceBytes>(bytes + offset));
    cuda_check(cudaMemcpy(inputs.back()->at(offset), c.in[i].data, bytes, cudaMemcpyHostToDevice), "copy");
    a.in[i] = inputs.back()->at(offset);
    a.dtype[i] = c.in[i].dtype;
    a.weight[i] = c.in[i].weight;
  }
  const size_t out_bytes = c.n * dtype_size(c.out_dtype);
  DeviceBytes d_out(out_bytes + offset), d_counts((c.in.size() + 1) * 8);
  cuda_check(cudaMemset(d_out.ptr, 0xCD, out_bytes + offset + 16), "memset");
  cuda_check(cudaMemset(d_counts.ptr, 0, (c.in.size() + 1) * 8), "memset");
  a.out = d_out.at(offset);
  a.out_dtype = c.out_dtype;
  a.n = c.n;
  a.nonfinite = static_cast<unsigned long long*>(d_counts.ptr);
  launch_weighted_sum(a, blocks, nullptr);
  out.resize(out_bytes + 1);  // one byte past the end must stay untouched
  counts.resize(c.in.size() + 1);
  cuda_check(cudaMemcpy(out.data(), d_out.at(offset), out_bytes + 1, cudaMemcpyDeviceToHost), "copy back");
  cuda_check(cudaMemcpy(counts.data(), d_counts.ptr, counts.size() * 8, cudaMemcpyDeviceToHost), "copy back");
}

TEST(CudaWeightedSum, MatchesCpuBytesOnEveryDtype) {
  COCKTAIL_REQUIRE_GPUS(1);
  std::mt19937 rng(31337);
  for (size_t k : {1, 2, 3, 7}) {
    for (DType out_dtype : kFloatTypes) {
      for (size_t n : {1, 7, 8, 9, 4099, 100003}) {
        for (size_t offset : {0, 2, 8}) {  // 0: vector path; others: per element
          Case c = random_case(k, out_dtype, n, rng);
          Tensor ref = make_tensor(out_dtype, n, 0);
          std::vector<uint64_t> ref_bad(k + 1, 0);
          weighted_sum_scalar(c.in, ref.data(), out_dtype, n, ref_bad.data());
          std::vector<unsigned char> out;
          std::vector<unsigned long long> bad;
          run_on_gpu(c, offset, out, bad, /*blocks=*/1 + rng() % 64);
          ASSERT_EQ(std::vector<unsigned char>(out.begin(), out.end() - 1), bytes(ref, n))
              << "k=" << k << " n=" << n << " out=" << int(out_dtype) << " offset=" << offset;
          ASSERT_EQ(out.back(), 0xCD);
          for (size_t i = 0; i <= k; ++i) ASSERT_EQ(bad[i], ref_bad[i]) << "counter " << i;
        }
      }
    }
  }
}

TEST(CudaWeightedSum, RejectsMoreModelsThanTheKernelTakes) {
  COCKTAIL_REQUIRE_GPUS(1);
  SumArgs a;
  a.models = kMaxGpuModels + 1;
  EXPECT_THROW(launch_weighted_sum(a, 1, nullptr), Error);
}

}  // namespace
}  // namespace cocktail
