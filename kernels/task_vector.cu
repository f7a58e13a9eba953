// The task-vector methods' CUDA kernels: grid-stride loops over a unit's
// elements, each element running task_vector_unit.hpp's functions. Masks
// that need more than their element come first: a cut's ties are numbered
// by an exclusive prefix sum of "key equals the threshold" flags, DELLA's
// ranks by sorting each row's (key, column) pairs, both with CUB. Every
// count is an integer atomic, so no result depends on the grid or on the
// order threads run in.
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <climits>
#include <string>

#include "core/error.hpp"
#include "exact_sum.hpp"
#include "task_vector_cuda.hpp"

namespace cocktail {
namespace {

constexpr int kThreads = 256;
constexpr uint64_t kMaxBlocks = 4096;

struct Sources {
  const void* p[kMaxTaskVectorModels + 1] = {};
};

// CUDA 12.1+ takes kernel arguments up to 32764 bytes on sm_70 and newer.
static_assert(sizeof(TaskVectorUnit) + sizeof(TaskVectorStats) + sizeof(Sources) + 64 <= 32764,
              "task-vector kernel arguments exceed the kernel-parameter space");

Sources sources(const TaskVectorUnit& u, const void* const* in) {
  Sources s;
  for (int i = 0; i <= u.models; ++i) s.p[i] = in[i];
  return s;
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA task-vector ") + what + ": " + cudaGetErrorString(e));
}

int grid(uint64_t n) { return static_cast<int>(std::max<uint64_t>(1, std::min((n + kThreads - 1) / kThreads, kMaxBlocks))); }

#define COCKTAIL_GRID_STRIDE(j, n) \
  for (uint64_t j = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < (n); j += uint64_t(gridDim.x) * blockDim.x)

__global__ void __launch_bounds__(kThreads)
    apply_kernel(const __grid_constant__ TaskVectorUnit u, const __grid_constant__ Sources in, const uint8_t* masks,
                 void* out, uint64_t* nonfinite) {
  COCKTAIL_GRID_STRIDE(j, u.count) apply_element(u, in.p, masks, out, j, nonfinite);
}

__global__ void tie_flags_kernel(const __grid_constant__ TaskVectorUnit u, const __grid_constant__ Sources in, int i,
                                 uint32_t threshold, uint32_t* flags) {
  COCKTAIL_GRID_STRIDE(j, u.count) flags[j] = magnitude_key(unit_delta(u, in.p, i, j)) == threshold;
}

__global__ void magnitude_mask_kernel(const __grid_constant__ TaskVectorUnit u, const __grid_constant__ Sources in,
                                      int i, const uint32_t* equal_hi, const uint32_t* equal_lo, uint8_t* masks) {
  const ModelMask& m = u.mask[i];
  COCKTAIL_GRID_STRIDE(j, u.count) {
    const uint32_t key = magnitude_key(unit_delta(u, in.p, i, j));
    masks[uint64_t(i) * u.count + j] =
        magnitude_keep(m, key, m.hi.ties ? equal_hi[j] : 0, m.lo.ties ? equal_lo[j] : 0);
  }
}

// Unique sort keys (magnitude, column): the order is that of a stable sort by magnitude.
__global__ void row_keys_kernel(const __grid_constant__ TaskVectorUnit u, const __grid_constant__ Sources in, int i,
                                uint64_t* keys) {
  COCKTAIL_GRID_STRIDE(j, u.count) keys[j] = (uint64_t(magnitude_key(unit_delta(u, in.p, i, j))) << 32) | (j % u.cols);
}

__global__ void row_offsets_kernel(uint64_t rows, uint64_t cols, int* offsets) {
  COCKTAIL_GRID_STRIDE(r, rows + 1) offsets[r] = static_cast<int>(r * cols);
}

__global__ void della_mask_kernel(const __grid_constant__ TaskVectorUnit u, int i, const uint64_t* sorted,
                                  uint8_t* masks) {
  COCKTAIL_GRID_STRIDE(p, u.count) {
    const uint64_t row = p / u.cols, rank = p % u.cols;
    const uint64_t j = row * u.cols + (sorted[p] & 0xFFFFFFFFu);
    masks[uint64_t(i) * u.count + j] = della_keep(u, i, j, rank);
  }
}

// Model i's share of a pass. The exact sums, which every element of an
// exponent adds to, gather in the block's shared copy first.
__global__ void __launch_bounds__(kThreads)
    stats_kernel(const __grid_constant__ TaskVectorUnit u, const __grid_constant__ TaskVectorStats s,
                 const __grid_constant__ Sources in, int i, const uint8_t* masks, uint64_t* state) {
  constexpr int kBins = ExactSum::kSize;
  __shared__ uint64_t bins[2][kBins];
  for (int b = threadIdx.x; b < 2 * kBins; b += blockDim.x) bins[b / kBins][b % kBins] = 0;
  __syncthreads();
  uint64_t* sums[2] = {bins[0], bins[1]};
  COCKTAIL_GRID_STRIDE(j, u.count) stats_unit_element(u, s, in.p, masks, i, j, state, sums);
  __syncthreads();
  const ModelStats& m = s.model[i];
  for (int b = threadIdx.x; b < 2 * kBins; b += blockDim.x) {
    const int k = b / kBins;
    if (m.sum[k] != kNone) add_u64(&state[m.sum[k] + b % kBins], bins[k][b % kBins]);
  }
}

void launched(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace

TaskVectorDevice::~TaskVectorDevice() {
  for (Scratch* s : {&masks_, &equal_hi_, &equal_lo_, &flags_, &keys_, &sorted_, &offsets_, &temp_})
    if (s->p) cudaFree(s->p);
}

void* TaskVectorDevice::scratch(Scratch& s, size_t bytes, cudaStream_t stream) {
  if (s.bytes >= bytes && s.p) return s.p;
  if (s.p) check(cudaFreeAsync(s.p, stream), "free");
  s.p = nullptr;
  s.bytes = 0;
  check(cudaMallocAsync(&s.p, std::max<size_t>(bytes, 1), stream), "scratch allocation");
  s.bytes = bytes;
  return s.p;
}

void TaskVectorDevice::precompute_masks(const TaskVectorUnit& u, const void* const* in, cudaStream_t stream) {
  bool any = false;
  for (int i = 0; i < u.models; ++i) any = any || mask_precomputed(u.mask[i]);
  if (!any) return;
  if (u.count > static_cast<uint64_t>(INT_MAX))
    throw Error("device cuda: a unit of " + std::to_string(u.count) +
                " elements is beyond the GPU mask kernels' 2^31 (lower chunk_size)");
  const Sources src = sources(u, in);
  const int n = static_cast<int>(u.count);
  auto* masks = static_cast<uint8_t*>(scratch(masks_, size_t(u.models) * u.count, stream));
  for (int i = 0; i < u.models; ++i) {
    const ModelMask& m = u.mask[i];
    if (!mask_precomputed(m)) continue;
    if (m.kind == MaskKind::Magnitude) {
      const CutRule* cuts[2] = {&m.hi, &m.lo};
      Scratch* equal[2] = {&equal_hi_, &equal_lo_};
      uint32_t* counts[2] = {nullptr, nullptr};
      for (int c = 0; c < 2; ++c) {
        if (!cuts[c]->ties) continue;
        auto* flags = static_cast<uint32_t*>(scratch(flags_, u.count * 4, stream));
        tie_flags_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, src, i, cuts[c]->threshold, flags);
        launched("tie flags");
        counts[c] = static_cast<uint32_t*>(scratch(*equal[c], u.count * 4, stream));
        size_t bytes = 0;
        check(cub::DeviceScan::ExclusiveSum(nullptr, bytes, flags, counts[c], n, stream), "scan size");
        check(cub::DeviceScan::ExclusiveSum(scratch(temp_, bytes, stream), bytes, flags, counts[c], n, stream), "scan");
      }
      magnitude_mask_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, src, i, counts[0], counts[1], masks);
      launched("magnitude mask");
      continue;
    }
    const uint64_t rows = u.count / u.cols;
    auto* keys = static_cast<uint64_t*>(scratch(keys_, u.count * 8, stream));
    auto* sorted = static_cast<uint64_t*>(scratch(sorted_, u.count * 8, stream));
    auto* offsets = static_cast<int*>(scratch(offsets_, (rows + 1) * sizeof(int), stream));
    row_keys_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, src, i, keys);
    launched("row keys");
    row_offsets_kernel<<<grid(rows + 1), kThreads, 0, stream>>>(rows, u.cols, offsets);
    launched("row offsets");
    size_t bytes = 0;
    const int segments = static_cast<int>(rows);
    check(cub::DeviceSegmentedRadixSort::SortKeys(nullptr, bytes, keys, sorted, n, segments, offsets, offsets + 1, 0,
                                                  63, stream),
          "sort size");
    check(cub::DeviceSegmentedRadixSort::SortKeys(scratch(temp_, bytes, stream), bytes, keys, sorted, n, segments,
                                                  offsets, offsets + 1, 0, 63, stream),
          "row sort");
    della_mask_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, i, sorted, masks);
    launched("della mask");
  }
}

void TaskVectorDevice::apply(const TaskVectorUnit& u, const void* const* in, void* out, unsigned long long* nonfinite,
                             cudaStream_t stream) {
  if (u.count == 0) return;
  precompute_masks(u, in, stream);
  apply_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, sources(u, in), static_cast<const uint8_t*>(masks_.p), out,
                                                        reinterpret_cast<uint64_t*>(nonfinite));
  launched("apply");
}

void TaskVectorDevice::statistics(const TaskVectorUnit& u, const TaskVectorStats& s, const void* const* in,
                                  uint64_t* state, cudaStream_t stream) {
  if (u.count == 0) return;
  if (s.kind == StatsKind::Norms) precompute_masks(u, in, stream);
  const Sources src = sources(u, in);
  for (int i = 0; i < u.models; ++i) {
    if (!s.model[i].active) continue;
    stats_kernel<<<grid(u.count), kThreads, 0, stream>>>(u, s, src, i, static_cast<const uint8_t*>(masks_.p), state);
    launched("statistics");
  }
}

}  // namespace cocktail
