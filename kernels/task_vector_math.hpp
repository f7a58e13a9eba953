#pragma once
// The per-element combine of mergekit's generalized task arithmetic
// (task_arithmetic, ties, dare_*, breadcrumbs*, della*), step by step as
// mergekit 0.1.5 computes it in float32 (merge_methods/
// generalized_task_arithmetic.py), each multiply, add and divide rounded
// separately:
//   d_i  = x_i - b
//   m_i  = d_i * keep_i            (keep_i is 1 or 0: the sparsification mask)
//   m_i  = m_i * scale_i           (only where the tensor is rescaled)
//   v_i  = m_i * w_i
//   consensus (ties):  s = sum_i v_i (model order); agree_i = sign(v_i) == (s >= 0 ? 1 : -1)
//                      mixed = sum_i v_i * agree_i, divisor = sum_i w_i * agree_i (0 -> 1)
//   otherwise:         mixed = sum_i v_i, divisor = sum_i w_i (|divisor| < 1e-8 -> 1)
//   normalize:         mixed = mixed / divisor
//   lambda != 1:       mixed = mixed * lambda
//   out  = b + mixed
// Sums run in model order from the first term. The mask decisions (which
// entries a sparsification keeps) are made by the caller.
#include <cstddef>
#include <cstdint>

#include "element_math.hpp"

namespace cocktail {

constexpr int kMaxTaskVectorModels = 64;

struct TaskVectorArgs {
  int models = 0;
  float weight[kMaxTaskVectorModels] = {};
  float scale[kMaxTaskVectorModels] = {};
  bool rescaled[kMaxTaskVectorModels] = {};
  bool consensus = false;
  bool normalize = false;
  bool scale_by_lambda = false;  // lambda != 1
  float lambda = 1.0f;
  float linear_divisor = 1.0f;   // sum of weights, already replaced by 1 when |sum| < 1e-8
};

COCKTAIL_HD float sign_of(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

// `x` holds the models' values, `keep` their mask bits, for one element.
COCKTAIL_HD float task_vector_element(const TaskVectorArgs& a, float base, const float* x, const bool* keep) {
  float v[kMaxTaskVectorModels];
  v[0] = 0.0f;  // a.models >= 1; this only tells the compiler
  for (int i = 0; i < a.models; ++i) {
    float m = mul_rn(sub_rn(x[i], base), keep[i] ? 1.0f : 0.0f);
    if (a.rescaled[i]) m = mul_rn(m, a.scale[i]);
    v[i] = mul_rn(m, a.weight[i]);
  }
  float mixed, divisor;
  if (a.consensus) {
    float s = v[0];
    for (int i = 1; i < a.models; ++i) s = add_rn(s, v[i]);
    const float majority = s >= 0.0f ? 1.0f : -1.0f;
    mixed = 0.0f;
    divisor = 0.0f;
    for (int i = 0; i < a.models; ++i) {
      const float agree = sign_of(v[i]) == majority ? 1.0f : 0.0f;
      const float term = mul_rn(v[i], agree), w = mul_rn(a.weight[i], agree);
      mixed = i == 0 ? term : add_rn(mixed, term);
      divisor = i == 0 ? w : add_rn(divisor, w);
    }
    if (divisor == 0.0f) divisor = 1.0f;
  } else {
    mixed = v[0];
    for (int i = 1; i < a.models; ++i) mixed = add_rn(mixed, v[i]);
    divisor = a.linear_divisor;
  }
  if (a.normalize) mixed = div_rn(mixed, divisor);
  if (a.scale_by_lambda) mixed = mul_rn(mixed, a.lambda);
  return add_rn(base, mixed);
}

}  // namespace cocktail

#ifndef __CUDACC__
namespace cocktail {

constexpr size_t kBlockMax = 1024;  // task_vector_block's n at most

// The same steps as task_vector_element for n consecutive elements, as loops
// over the block that the compiler vectorises: each step is the same IEEE
// operation on each element in the same order, so the bytes are those of
// task_vector_element (test_task_vector_math checks it). x[i] and keep[i]
// are model i's values and mask bytes; v is scratch of models * n floats.
[[gnu::always_inline]] inline void task_vector_block(const TaskVectorArgs& a, const float* __restrict base,
                                                     const float* const* x, const uint8_t* const* keep,
                                                     float* __restrict v, float* __restrict out, size_t n) {
  // Branch-free forms of the same values (keep bytes are 0 or 1), so every
  // loop vectorises.
  for (int i = 0; i < a.models; ++i) {
    float* __restrict vi = v + size_t(i) * n;
    const float* __restrict xi = x[i];
    const uint8_t* __restrict ki = keep[i];
    const float w = a.weight[i], scale = a.scale[i];
    if (a.rescaled[i]) {
      for (size_t j = 0; j < n; ++j) vi[j] = ((xi[j] - base[j]) * float(ki[j])) * scale * w;
    } else {
      for (size_t j = 0; j < n; ++j) vi[j] = ((xi[j] - base[j]) * float(ki[j])) * w;
    }
  }
  float* __restrict mixed = out;
  if (a.consensus) {
    float divisor[kBlockMax], majority[kBlockMax];
    for (size_t j = 0; j < n; ++j) majority[j] = v[j];
    for (int i = 1; i < a.models; ++i) {
      const float* __restrict vi = v + size_t(i) * n;
      for (size_t j = 0; j < n; ++j) majority[j] = majority[j] + vi[j];
    }
    for (size_t j = 0; j < n; ++j) majority[j] = float(2 * int(majority[j] >= 0.0f) - 1);
    for (int i = 0; i < a.models; ++i) {
      const float* __restrict vi = v + size_t(i) * n;
      const float w = a.weight[i];
      if (i == 0) {
        for (size_t j = 0; j < n; ++j) {
          const float agree = float(float(int(vi[j] > 0.0f) - int(vi[j] < 0.0f)) == majority[j]);
          mixed[j] = vi[j] * agree;
          divisor[j] = w * agree;
        }
      } else {
        for (size_t j = 0; j < n; ++j) {
          const float agree = float(float(int(vi[j] > 0.0f) - int(vi[j] < 0.0f)) == majority[j]);
          mixed[j] = mixed[j] + vi[j] * agree;
          divisor[j] = divisor[j] + w * agree;
        }
      }
    }
    if (a.normalize)
      for (size_t j = 0; j < n; ++j) mixed[j] = mixed[j] / (divisor[j] + float(divisor[j] == 0.0f));
  } else {
    for (size_t j = 0; j < n; ++j) mixed[j] = v[j];
    for (int i = 1; i < a.models; ++i) {
      const float* __restrict vi = v + size_t(i) * n;
      for (size_t j = 0; j < n; ++j) mixed[j] = mixed[j] + vi[j];
    }
    if (a.normalize)
      for (size_t j = 0; j < n; ++j) mixed[j] = mixed[j] / a.linear_divisor;
  }
  if (a.scale_by_lambda)
    for (size_t j = 0; j < n; ++j) mixed[j] = mixed[j] * a.lambda;
  for (size_t j = 0; j < n; ++j) out[j] = base[j] + mixed[j];
}

}  // namespace cocktail
#endif
