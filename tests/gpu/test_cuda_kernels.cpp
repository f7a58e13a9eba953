// The CUDA weighted sum against the CPU reference, byte for byte and count
// for count, on every dtype mix, aligned (16-byte vector path) and not
// (per-element path), with lengths that leave every possible tail; and the
// CUDA LoRA update against the CPU's.
#include <cuda_runtime.h>

#include "gpu/cuda_check.hpp"
#include "gpu_skip.hpp"
#include "kernel_cases.hpp"
#include "lora_update_cuda.hpp"
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

template <typename T>
T* to_device(const DeviceBytes& d, const std::vector<T>& v) {
  cuda_check(cudaMemcpy(d.ptr, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "copy");
  return static_cast<T*>(d.ptr);
}

TEST(CudaLoraUpdate, MatchesCpuBytes) {
  COCKTAIL_REQUIRE_GPUS(1);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (uint32_t rank : {1u, 8u, 64u}) {
    for (uint64_t cols : {1ull, 300ull, 4096ull}) {
      for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
        const uint64_t rows = 37, n = rows * cols, first = rng() % n, count = n - first;
        std::vector<float> left(rows * rank), right(rank * cols);
        for (float& x : left) x = normal(rng);
        for (float& x : right) x = normal(rng) * 0.01f;
        std::vector<unsigned char> data(count * dtype_size(dtype));
        for (uint64_t j = 0; j < count; ++j) store_from_f32(data.data(), dtype, j, normal(rng));
        LoraArgs a;
        a.rank = rank;
        a.cols = cols;
        a.scale = 0.5f;
        a.round_first = dtype == DType::F32 ? DType::F32 : DType::BF16;
        a.round_then = dtype;
        a.dtype = dtype;
        a.first = first;
        a.count = count;
        DeviceBytes d_left(left.size() * 4), d_right(right.size() * 4), d_data(data.size());
        LoraArgs d = a;
        d.left = to_device(d_left, left);
        d.right = to_device(d_right, right);
        d.data = to_device(d_data, data);
        launch_lora_update(d, 1 + rng() % 64, nullptr);
        std::vector<unsigned char> gpu(data.size());
        cuda_check(cudaMemcpy(gpu.data(), d_data.ptr, gpu.size(), cudaMemcpyDeviceToHost), "copy back");
        a.left = left.data();
        a.right = right.data();
        a.data = data.data();
        add_lora_update(a);
        ASSERT_EQ(gpu, data) << "rank " << rank << " cols " << cols << " dtype " << int(dtype);
      }
    }
  }
}

}  // namespace
}  // namespace cocktail
