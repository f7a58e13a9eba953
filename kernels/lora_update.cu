// CUDA LoRA update: a grid-stride loop, one element per thread. Neighbouring
// threads share a row of `left` and read neighbouring columns of `right`, so
// the loads coalesce; the arithmetic is lora_update.hpp's.
#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "lora_update_cuda.hpp"

namespace cocktail {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) lora_update_kernel(const __grid_constant__ LoraArgs a) {
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t j = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < a.count; j += stride)
    lora_update_element(a, j);
}

}  // namespace

void launch_lora_update(const LoraArgs& args, int blocks, cudaStream_t stream) {
  if (args.count == 0) return;
  const auto grid = static_cast<int>(std::min<uint64_t>((args.count + kThreads - 1) / kThreads, blocks));
  lora_update_kernel<<<grid, kThreads, 0, stream>>>(args);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
    throw Error(std::string("CUDA LoRA update launch: ") + cudaGetErrorString(e));
}

}  // namespace cocktail
