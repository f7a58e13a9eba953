// CUDA weighted sum: a grid-stride loop over 8-element groups (16-byte loads
// and stores), then the tail one element at a time. All arithmetic is in
// weighted_sum_group.hpp, shared with the CPU tests.
#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "weighted_sum_cuda.hpp"

namespace cocktail {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    weighted_sum_kernel(const __grid_constant__ SumArgs a, bool vector) {
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  const uint64_t first = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const uint64_t groups = vector ? a.n / kGroup : 0;
  for (uint64_t g = first; g < groups; g += stride) sum_group(a, g);
  for (uint64_t j = groups * kGroup + first; j < a.n; j += stride) sum_element(a, j);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void launch_weighted_sum(const SumArgs& args, int blocks, cudaStream_t stream) {
  if (args.models < 1 || args.models > kMaxGpuModels)
    throw Error("CUDA weighted sum: " + std::to_string(args.models) + " models (the GPU path takes 1 to " +
                std::to_string(kMaxGpuModels) + ")");
  bool vector = aligned16(args.out);
  for (int i = 0; i < args.models; ++i) {
    if (!is_mergeable_float(args.dtype[i])) throw Error("CUDA weighted sum: input is not a float dtype");
    vector = vector && aligned16(args.in[i]);
  }
  if (!is_mergeable_float(args.out_dtype)) throw Error("CUDA weighted sum: output is not a float dtype");
  if (args.n == 0) return;
  const uint64_t work = vector ? (args.n + kGroup - 1) / kGroup : args.n;
  const auto grid = static_cast<int>(std::min<uint64_t>((work + kThreads - 1) / kThreads, blocks));
  weighted_sum_kernel<<<grid, kThreads, 0, stream>>>(args, vector);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    throw Error(std::string("CUDA weighted sum launch: ") + cudaGetErrorString(e));
}

}  // namespace cocktail
