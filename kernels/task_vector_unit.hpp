#pragma once
// The task-vector methods on a device: one unit's apply, and one unit's
// share of a statistics pass, as plain data (what the method resolved for
// the unit) and the __host__ __device__ code every element runs. The CUDA
// kernels (task_vector.cu) and the host emulation of the GPU path
// (merge/emulated_compute.cpp, which the CPU-only tests run end to end)
// call exactly these functions; the method's CPU path
// (merge/methods/task_vector.cpp) computes the same bytes its own,
// vectorised way.
//
// Two masks need more than their element: a magnitude cut that keeps only
// some of the elements equal to its threshold (their order decides, so each
// element needs the count of equal ones before it in the unit: a prefix
// sum), and DELLA (an element's keep probability follows its magnitude rank
// in its row: a sort per row). Those are computed first into one mask byte
// per element and model; every other mask is decided inline.
#include <cstdint>

#include "philox.hpp"
#include "task_vector_math.hpp"

namespace cocktail {

// The order magnitudes are ranked in: |x|'s float32 bit pattern (for
// non-negative floats the same order as their values; NaN above Inf).
COCKTAIL_HD uint32_t magnitude_key(float x) { return f32_bits(x) & 0x7FFFFFFFu; }

// One cut of magnitude_select.hpp: keeps the keys >= min_key, or, when it
// counts ties, the keys above `threshold` and the first (need - before) of
// this unit's keys equal to it.
struct CutRule {
  uint64_t min_key = 0;  // 2^32: keeps nothing
  bool ties = false;
  uint32_t threshold = 0;
  uint64_t need = 0, before = 0;
};

COCKTAIL_HD bool cut_keeps(const CutRule& c, uint32_t key, uint64_t equal_before_in_unit) {
  if (!c.ties) return key >= c.min_key;
  return key > c.threshold || (key == c.threshold && c.before + equal_before_in_unit < c.need);
}

enum class MaskKind : uint8_t {
  KeepAll,    // not sparsified (density 1, or task_arithmetic)
  Magnitude,  // ties, breadcrumbs: kept when `hi` keeps and `lo` does not
  Random,     // dare: kept with probability p
  Della,      // della: probability from the magnitude rank in the row
};

struct ModelMask {
  MaskKind kind = MaskKind::KeepAll;
  CutRule hi, lo;
  float p = 1;             // Random
  float low = 0, eps = 0;  // Della: density - epsilon, epsilon
  uint32_t model = 0;      // the generator's counter word: the model's index in the job
};

struct TaskVectorUnit {
  int models = 0;                              // besides the base
  DType dtype[kMaxTaskVectorModels + 1] = {};  // the base's first
  DType out_dtype = DType::F32;
  ModelMask mask[kMaxTaskVectorModels];
  TaskVectorArgs combine;
  PhiloxKey key;                  // philox_key(seed, tensor name)
  uint64_t first = 0, count = 0;  // the unit's elements in its tensor
  uint64_t cols = 1;              // Della: the row length; units hold whole rows
};

COCKTAIL_HD bool mask_precomputed(const ModelMask& m) {
  return m.kind == MaskKind::Della || (m.kind == MaskKind::Magnitude && (m.hi.ties || m.lo.ties));
}

// Model i's task vector at element j of the unit.
COCKTAIL_HD float unit_delta(const TaskVectorUnit& u, const void* const* in, int i, uint64_t j) {
  return sub_rn(load_as_f32(in[i + 1], u.dtype[i + 1], j), load_as_f32(in[0], u.dtype[0], j));
}

// A mask that needs only its element (mask_precomputed is false).
COCKTAIL_HD bool inline_keep(const TaskVectorUnit& u, int i, uint32_t key, uint64_t j) {
  const ModelMask& m = u.mask[i];
  switch (m.kind) {
    case MaskKind::Magnitude: return cut_keeps(m.hi, key, 0) && !cut_keeps(m.lo, key, 0);
    case MaskKind::Random: return philox_uniform(u.key, m.model, u.first + j) < m.p;
    default: return true;
  }
}

COCKTAIL_HD bool element_keep(const TaskVectorUnit& u, int i, const uint8_t* masks, uint32_t key, uint64_t j) {
  return mask_precomputed(u.mask[i]) ? masks[uint64_t(i) * u.count + j] != 0 : inline_keep(u, i, key, j);
}

// A cut's mask with its ties: equal_before[j] counts the unit's elements
// before j whose key equals the cut's threshold.
COCKTAIL_HD bool magnitude_keep(const ModelMask& m, uint32_t key, uint64_t hi_equal_before, uint64_t lo_equal_before) {
  return cut_keeps(m.hi, key, hi_equal_before) && !cut_keeps(m.lo, key, lo_equal_before);
}

// mergekit's della_magprune: the keep probability of the entry ranked
// `rank` (ascending magnitude) in a row of `cols`, in float32.
COCKTAIL_HD float della_probability(const ModelMask& m, uint64_t rank, uint64_t cols) {
  float norm = cols > 1 ? div_rn(static_cast<float>(rank), static_cast<float>(cols - 1)) : 0.0f;
  norm = norm > 1.0f ? 1.0f : (norm < 0.0f ? 0.0f : norm);
  return add_rn(m.low, mul_rn(mul_rn(norm, 2.0f), m.eps));
}

// Element j (in row r at column c, j = r * cols + c) ranked `rank` in its row.
COCKTAIL_HD bool della_keep(const TaskVectorUnit& u, int i, uint64_t j, uint64_t rank) {
  const ModelMask& m = u.mask[i];
  return philox_uniform(u.key, m.model, u.first + j) < della_probability(m, rank, u.cols);
}

// Device threads share counters and state; on the host the caller owns them.
COCKTAIL_HD void add_u64(uint64_t* counter, uint64_t v) {
#ifdef __CUDA_ARCH__
  if (v) atomicAdd(reinterpret_cast<unsigned long long*>(counter), static_cast<unsigned long long>(v));
#else
  *counter += v;
#endif
}

// The merged element j: in[0] the base, in[i + 1] model i; masks[i * count
// + j] for the models whose mask is precomputed. nonfinite: NaN/Inf read
// per source, then written (models + 2 counters).
COCKTAIL_HD void apply_element(const TaskVectorUnit& u, const void* const* in, const uint8_t* masks, void* out,
                               uint64_t j, uint64_t* nonfinite) {
  const float base = load_as_f32(in[0], u.dtype[0], j);
  add_u64(&nonfinite[0], is_nonfinite(base));
  float x[kMaxTaskVectorModels];
  bool keep[kMaxTaskVectorModels];
  for (int i = 0; i < u.models; ++i) {
    x[i] = load_as_f32(in[i + 1], u.dtype[i + 1], j);
    add_u64(&nonfinite[i + 1], is_nonfinite(x[i]));
    keep[i] = element_keep(u, i, masks, magnitude_key(sub_rn(x[i], base)), j);
  }
  store_from_f32(out, u.out_dtype, j, canonicalize_nan(task_vector_element(u.combine, base, x, keep)));
  add_u64(&nonfinite[u.models + 1], is_nonfinite(load_as_f32(out, u.out_dtype, j)));
}

// ---- statistics ----

// The integer state a pass adds to, as offsets into the method's state of
// (pass, tensor) (TensorMethod::state); kNone where nothing is gathered.
constexpr uint64_t kNone = ~uint64_t(0);

enum class StatsKind : uint8_t {
  HighBits,  // histogram of key >> 16; ExactSum of |d| (`sum[0]`)
  LowBits,   // per cut: histogram of key & 0xFFFF inside its high bin; ExactSum of the keys above it
  Ties,      // per cut: count of keys equal to its threshold
  Norms,     // ExactSum of |d| (`sum[0]`) and of the kept |d| (`sum[1]`)
};

struct ModelStats {
  bool active = false;
  uint64_t histogram[2] = {kNone, kNone};  // HighBits: [0]; LowBits: per cut
  uint64_t sum[2] = {kNone, kNone};        // ExactSum bins (ExactSum::kSize)
  uint32_t high_bin[2] = {};               // LowBits
  uint32_t threshold[2] = {};              // Ties
  uint64_t tie_count[2] = {kNone, kNone};  // Ties: this unit's counter of each cut
};

struct TaskVectorStats {
  StatsKind kind = StatsKind::HighBits;
  ModelStats model[kMaxTaskVectorModels];
};

// The bin and amount a magnitude (by its key) adds to an ExactSum; as ExactSum::add.
COCKTAIL_HD void exact_sum_term(uint32_t key, int* bin, uint64_t* amount) {
  const uint32_t e = key >> 23, m = key & 0x7FFFFFu;
  if (e == 255) {
    *bin = m ? 256 : 255;
    *amount = 1;
    return;
  }
  *bin = static_cast<int>(e);
  *amount = e ? (m | 0x800000u) : m;
}

// Element j of model i into the pass's state: histograms and counters at
// their offsets in `state`, the ExactSums into sums[0] and sums[1] (the
// state's bins at m.sum[k], or a block's copy of them on a device).
COCKTAIL_HD void stats_element(const TaskVectorStats& s, int i, uint32_t key, bool keep, uint64_t* state,
                               uint64_t* const* sums) {
  const ModelStats& m = s.model[i];
  int bin;
  uint64_t amount;
  exact_sum_term(key, &bin, &amount);
  switch (s.kind) {
    case StatsKind::HighBits:
      add_u64(&state[m.histogram[0] + (key >> 16)], 1);
      if (m.sum[0] != kNone) add_u64(&sums[0][bin], amount);
      return;
    case StatsKind::LowBits:
      for (int c = 0; c < 2; ++c) {
        if (m.histogram[c] == kNone) continue;
        if ((key >> 16) == m.high_bin[c]) add_u64(&state[m.histogram[c] + (key & 0xFFFFu)], 1);
        else if ((key >> 16) > m.high_bin[c] && m.sum[c] != kNone) add_u64(&sums[c][bin], amount);
      }
      return;
    case StatsKind::Ties:
      for (int c = 0; c < 2; ++c)
        if (m.tie_count[c] != kNone && key == m.threshold[c]) add_u64(&state[m.tie_count[c]], 1);
      return;
    case StatsKind::Norms:
      add_u64(&sums[0][bin], amount);
      if (keep) add_u64(&sums[1][bin], amount);
      return;
  }
}

// Element j of model i into a pass's state; only the norms read the mask.
COCKTAIL_HD void stats_unit_element(const TaskVectorUnit& u, const TaskVectorStats& s, const void* const* in,
                                    const uint8_t* masks, int i, uint64_t j, uint64_t* state, uint64_t* const* sums) {
  const uint32_t key = magnitude_key(unit_delta(u, in, i, j));
  const bool keep = s.kind == StatsKind::Norms && element_keep(u, i, masks, key, j);
  stats_element(s, i, key, keep, state, sums);
}

}  // namespace cocktail
