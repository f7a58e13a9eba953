#pragma once
// What one CUDA thread computes in the fused K-way weighted sum, written as
// __host__ __device__ functions so the CPU tests run this exact code (the
// group loads, the per-model accumulation, the narrowing and the counts)
// against weighted_sum_scalar on every dtype. Only the grid-stride loop and
// the launch live in weighted_sum.cu.
//
// A thread takes groups of kGroup elements: 16 bytes of bf16/f16, read with
// one 16-byte load (two for f32, four for f64, one 8-byte load for f8) when
// every buffer is 16-byte aligned; otherwise, and for the last n % kGroup
// elements, it runs sum_element one element at a time. Both give the same
// bytes: they are the same element_math.hpp steps in the same model order.
#include "element_math.hpp"

// nvcc unrolls on request; host compilers unroll these small loops anyway.
#if defined(__CUDACC__)
#define COCKTAIL_UNROLL _Pragma("unroll")
#else
#define COCKTAIL_UNROLL
#endif

namespace cocktail {

constexpr int kMaxGpuModels = 64;  // keeps SumArgs well inside the 4 KiB kernel-argument space
constexpr int kGroup = 8;

// Kernel arguments, passed by value so the weights sit in the constant bank
// every thread reads at no cost. Pointers are device memory on the GPU.
struct SumArgs {
  const void* in[kMaxGpuModels];
  float weight[kMaxGpuModels];
  DType dtype[kMaxGpuModels];
  int models = 0;
  void* out = nullptr;
  DType out_dtype = DType::F32;
  uint64_t n = 0;
  // models + 1 counters: NaN/Inf read per model, then NaN/Inf written.
  unsigned long long* nonfinite = nullptr;
};

// Device threads share the counters; non-finite values are rare, so an
// atomic per group that has any costs nothing in practice.
COCKTAIL_HD void add_count(unsigned long long* counter, unsigned count) {
#ifdef __CUDA_ARCH__
  if (count) atomicAdd(counter, static_cast<unsigned long long>(count));
#else
  *counter += count;
#endif
}

// Copies Bytes (8, 16, 32 or 64) between buffers aligned to min(Bytes, 16),
// as vector loads and stores on the device.
template <int Bytes>
COCKTAIL_HD void copy_aligned(void* dst, const void* src) {
#ifdef __CUDA_ARCH__
  if constexpr (Bytes == 8) {
    *static_cast<uint2*>(dst) = *static_cast<const uint2*>(src);
  } else {
#pragma unroll
    for (int i = 0; i < Bytes / 16; ++i)
      static_cast<uint4*>(dst)[i] = static_cast<const uint4*>(src)[i];
  }
#else
  memcpy(dst, src, Bytes);
#endif
}

template <DType T>
COCKTAIL_HD void load_group_as(const void* base, uint64_t group, float* x) {
  constexpr int kBytes = kGroup * static_cast<int>(dtype_size(T));
  alignas(16) unsigned char raw[kBytes];
  copy_aligned<kBytes>(raw, static_cast<const unsigned char*>(base) + group * kBytes);
  COCKTAIL_UNROLL
  for (int j = 0; j < kGroup; ++j) x[j] = load_as_f32(raw, T, j);
}

COCKTAIL_HD void load_group(const void* base, DType t, uint64_t group, float* x) {
  switch (t) {
    case DType::F32: load_group_as<DType::F32>(base, group, x); break;
    case DType::BF16: load_group_as<DType::BF16>(base, group, x); break;
    case DType::F16: load_group_as<DType::F16>(base, group, x); break;
    case DType::F64: load_group_as<DType::F64>(base, group, x); break;
    case DType::F8_E4M3: load_group_as<DType::F8_E4M3>(base, group, x); break;
    case DType::F8_E5M2: load_group_as<DType::F8_E5M2>(base, group, x); break;
    default:  // the launcher accepts mergeable floats only; as load_as_f32
      for (int j = 0; j < kGroup; ++j) x[j] = 0.0f;
  }
}

// Narrows, stores, and returns how many stored values are NaN or Inf.
template <DType T>
COCKTAIL_HD unsigned store_group_as(const float* acc, void* base, uint64_t group) {
  constexpr int kBytes = kGroup * static_cast<int>(dtype_size(T));
  alignas(16) unsigned char raw[kBytes];
  unsigned bad = 0;
  COCKTAIL_UNROLL
  for (int j = 0; j < kGroup; ++j) {
    store_from_f32(raw, T, j, canonicalize_nan(acc[j]));
    bad += is_nonfinite(load_as_f32(raw, T, j));
  }
  copy_aligned<kBytes>(static_cast<unsigned char*>(base) + group * kBytes, raw);
  return bad;
}

COCKTAIL_HD unsigned store_group(const float* acc, void* base, DType t, uint64_t group) {
  switch (t) {
    case DType::F32: return store_group_as<DType::F32>(acc, base, group);
    case DType::BF16: return store_group_as<DType::BF16>(acc, base, group);
    case DType::F16: return store_group_as<DType::F16>(acc, base, group);
    case DType::F64: return store_group_as<DType::F64>(acc, base, group);
    case DType::F8_E4M3: return store_group_as<DType::F8_E4M3>(acc, base, group);
    case DType::F8_E5M2: return store_group_as<DType::F8_E5M2>(acc, base, group);
    default: return 0;
  }
}

// Elements [group * kGroup, group * kGroup + kGroup), all below a.n; every
// buffer 16-byte aligned.
COCKTAIL_HD void sum_group(const SumArgs& a, uint64_t group) {
  float acc[kGroup], x[kGroup];
  for (int i = 0; i < a.models; ++i) {
    load_group(a.in[i], a.dtype[i], group, x);
    unsigned bad = 0;
    COCKTAIL_UNROLL
    for (int j = 0; j < kGroup; ++j) {
      bad += is_nonfinite(x[j]);
      acc[j] = i == 0 ? mul_rn(a.weight[i], x[j]) : accumulate(acc[j], a.weight[i], x[j]);
    }
    add_count(&a.nonfinite[i], bad);
  }
  add_count(&a.nonfinite[a.models], store_group(acc, a.out, a.out_dtype, group));
}

// Element j alone, any alignment: the same steps as sum_group.
COCKTAIL_HD void sum_element(const SumArgs& a, uint64_t j) {
  float acc = 0.0f;
  for (int i = 0; i < a.models; ++i) {
    const float x = load_as_f32(a.in[i], a.dtype[i], j);
    add_count(&a.nonfinite[i], is_nonfinite(x));
    acc = i == 0 ? mul_rn(a.weight[i], x) : accumulate(acc, a.weight[i], x);
  }
  store_from_f32(a.out, a.out_dtype, j, canonicalize_nan(acc));
  add_count(&a.nonfinite[a.models], is_nonfinite(load_as_f32(a.out, a.out_dtype, j)));
}

}  // namespace cocktail
