// The generalized task arithmetic family on the streaming engine. Per tensor
// and per model, parameters are resolved first (prepare); the passes then
// gather what a sparsification needs over the whole tensor (magnitude cut
// points, L1 norms for the rescale), and apply() computes each unit from
// those. Every statistic is an integer state (histograms, exact sums,
// counts), so it does not depend on how the tensor was cut into units,
// threads or ranks.
#include "merge/methods/task_vector.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>

#include "core/error.hpp"
#include "merge/methods/magnitude_select.hpp"
#include "merge/methods/widen.hpp"
#include "bernoulli_mask.hpp"
#include "philox.hpp"
#include "task_vector_math.hpp"

namespace cocktail {
namespace {

// Magnitude and Outliers: pass 0 high-bit histograms (and the L1 of the
// task vector), pass 1 low-bit histograms, pass 2 ties per unit. Random and
// Della: pass 0, the L1 norms before and after the mask.
enum Pass { kHighPass = 0, kLowPass = 1, kTiePass = 2, kNormPass = 0 };

enum class RescaleNorm { L1, Density };

struct ModelTensor {
  float weight = 0;
  double density = 1, gamma = 0, epsilon = 0;
  bool sparsified = false;  // density < 1: mergekit's sparsify returns the task vector itself otherwise
  MagnitudeCut lo, hi;      // Magnitude / Outliers: keep elements of rank [lo.count, hi.count)
  ExactSum before;          // L1 of the task vector, when rescaled by L1
  bool rescaled = false;
  float scale = 1;
};

struct TensorState {
  bool merged = false;  // a float tensor of the merge (integer tensors are copied)
  std::vector<ModelTensor> models;  // the non-base sources, in order
  bool normalize = false, rescale = false;
  RescaleNorm norm = RescaleNorm::L1;
  double lambda = 1;
  float linear_divisor = 1;
  PhiloxKey key;
  size_t first_unit = 0, units = 0;  // in plan.units
  uint64_t unit_step = 1;            // elements of every unit but the last
  uint64_t rows = 1, cols = 1;       // Della: rows of the last dimension
};

size_t state_size(Sparsifier sp, int pass, const TensorState& t) {
  const size_t n = t.models.size();
  switch (sp) {
    case Sparsifier::Magnitude:
    case Sparsifier::Outliers:
      if (pass == kHighPass) return n * (kHighBins + ExactSum::kSize);
      if (pass == kLowPass) return n * 2 * (kLowBins + ExactSum::kSize);
      return n * 2 * t.units;
    case Sparsifier::Random:
    case Sparsifier::Della: return n * 2 * ExactSum::kSize;
    case Sparsifier::None: return 0;
  }
  return 0;
}

ExactSum sum_from(const uint64_t* bins) {
  ExactSum s;
  std::copy(bins, bins + ExactSum::kSize, s.bins);
  return s;
}

void add_to(uint64_t* bins, const ExactSum& s) {
  for (int i = 0; i < ExactSum::kSize; ++i) bins[i] += s.bins[i];
}

ExactSum minus(const ExactSum& a, const ExactSum& b) {
  ExactSum d = a;
  for (int i = 0; i < ExactSum::kSize; ++i) d.bins[i] -= b.bins[i];
  return d;
}

// mergekit's rescaled_masked_tensor with the L1 norm: masked * (before /
// after) in float32, unless either norm is below 1e-7.
void set_l1_scale(ModelTensor& m, const ExactSum& after) {
  const float before_f = static_cast<float>(m.before.value());
  const float after_f = static_cast<float>(after.value());
  m.rescaled = !(before_f < 1e-7f || after_f < 1e-7f);
  m.scale = m.rescaled ? div_rn(before_f, after_f) : 1.0f;
}

// A thread's reusable buffer number Slot, of at least n elements: a fresh
// allocation per unit would page-fault its way through every chunk.
template <typename T, int Slot>
std::vector<T>& scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer;
}

uint64_t count_nonfinite(const float* x, size_t n) {
  uint64_t bad = 0;
  for (size_t j = 0; j < n; ++j) bad += is_nonfinite(x[j]);
  return bad;
}

// Stores v as elements [first, first + n) of `t`; returns how many stored values are NaN or Inf.
uint64_t narrow(const float* v, std::byte* out, DType t, size_t first, size_t n) {
  uint64_t bad = 0;
  switch (t) {
    case DType::F32:
      for (size_t j = 0; j < n; ++j) {
        const float c = canonicalize_nan(v[j]);
        store_raw<float>(out, first + j, c);
        bad += is_nonfinite(c);
      }
      return bad;
    case DType::BF16:
      for (size_t j = 0; j < n; ++j) {
        const uint16_t h = f32_to_bf16(canonicalize_nan(v[j]));
        store_raw<uint16_t>(out, first + j, h);
        bad += is_nonfinite(bf16_to_f32(h));
      }
      return bad;
    default:
      for (size_t j = 0; j < n; ++j) {
        store_from_f32(out, t, first + j, canonicalize_nan(v[j]));
        bad += is_nonfinite(load_as_f32(out, t, first + j));
      }
      return bad;
  }
}

// A magnitude cut's mask without ties to count: kept when hi_min <= |d| < lo_min
// (as float32 bit patterns).
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
void threshold_mask(uint64_t hi_min, uint64_t lo_min, const float* d, size_t n, uint8_t* keep) {
  for (size_t j = 0; j < n; ++j) {
    const uint64_t key = magnitude_key(d[j]);
    keep[j] = uint8_t(key >= hi_min) & uint8_t(key < lo_min);
  }
}

// The combine, compiled for AVX2 and for any x86-64, picked at load time;
// both give the same bytes (the same IEEE operations, no FMA).
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
void combine_block(const TaskVectorArgs& a, const float* base, const float* const* x, const uint8_t* const* keep,
                   float* v, float* out, size_t n) {
  task_vector_block(a, base, x, keep, v, out, n);
}

class PreparedTaskVector : public PreparedMethod {
 public:
  PreparedTaskVector(const TaskVectorSpec& spec, const Job& job, const MergePlan& plan, const ParamResolver& params)
      : spec_(spec), plan_(plan) {
    tensors_.resize(plan.tensors.size());
    std::vector<size_t> first(plan.tensors.size(), SIZE_MAX);
    for (size_t u = 0; u < plan.units.size(); ++u) {
      TensorState& t = tensors_[plan.units[u].tensor];
      if (first[plan.units[u].tensor] == SIZE_MAX) {
        first[plan.units[u].tensor] = u;
        t.first_unit = u;
        t.unit_step = plan.units[u].count;
      }
      ++t.units;
    }
    for (size_t i = 0; i < plan.tensors.size(); ++i) resolve(job, plan.tensors[i], params, tensors_[i]);
  }

  int passes() const override {
    switch (spec_.sparsifier) {
      case Sparsifier::Magnitude:
      case Sparsifier::Outliers: return 3;
      case Sparsifier::Random:
      case Sparsifier::Della: return 1;
      case Sparsifier::None: return 0;
    }
    return 0;
  }

  bool reads(int pass, size_t tensor) const override {
    const TensorState& t = tensors_[tensor];
    if (!t.merged) return false;
    for (const ModelTensor& m : t.models) {
      if (!m.sparsified) continue;
      switch (spec_.sparsifier) {
        case Sparsifier::Magnitude:
        case Sparsifier::Outliers: {
          const bool cut = m.lo.kind == MagnitudeCut::Kind::Threshold || m.hi.kind == MagnitudeCut::Kind::Threshold;
          if (pass == kHighPass && (cut || (t.rescale && t.norm == RescaleNorm::L1))) return true;
          if (pass == kLowPass && cut) return true;
          if (pass == kTiePass && (m.lo.counts_ties() || m.hi.counts_ties())) return true;
          break;
        }
        case Sparsifier::Random:
        case Sparsifier::Della:
          if (t.rescale && t.norm == RescaleNorm::L1) return true;
          break;
        case Sparsifier::None: break;
      }
    }
    return false;
  }

  std::span<uint64_t> state(int pass, size_t tensor) override {
    std::vector<uint64_t>& s = states_[{pass, tensor}];
    if (s.empty()) s.assign(state_size(spec_.sparsifier, pass, tensors_[tensor]), 0);
    return s;
  }

  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override {
    TensorState& t = tensors_[unit.tensor];
    uint64_t* s = state(pass, unit.tensor).data();
    const size_t n = t.models.size();
    const size_t unit_index = (unit.first / t.unit_step);
    const std::vector<float>& base = base_values(unit, in);
    pool.parallel_for(n, [&](size_t begin, size_t end) {
      std::vector<float>& d = scratch<float, 0>(unit.count);
      std::vector<uint8_t>& keep = scratch<uint8_t, 1>(unit.count);
      for (size_t i = begin; i < end; ++i) {
        const ModelTensor& m = t.models[i];
        if (!m.sparsified) continue;
        deltas(unit, in, base.data(), i, d.data());
        switch (spec_.sparsifier) {
          case Sparsifier::Magnitude:
          case Sparsifier::Outliers:
            accumulate_magnitude(pass, t, m, i, unit_index, std::span<const float>(d.data(), unit.count), s);
            break;
          case Sparsifier::Random:
          case Sparsifier::Della: {
            random_mask(unit, t, i, d.data(), keep.data());
            ExactSum before, after;
            before.add_magnitudes(d.data(), unit.count, keep.data(), &after);
            add_to(s + i * 2 * ExactSum::kSize, before);
            add_to(s + (i * 2 + 1) * ExactSum::kSize, after);
            break;
          }
          case Sparsifier::None: break;
        }
      }
    });
  }

  void finish(int pass, size_t tensor) override {
    auto it = states_.find({pass, tensor});
    if (it == states_.end()) return;
    const uint64_t* s = it->second.data();
    TensorState& t = tensors_[tensor];
    for (size_t i = 0; i < t.models.size(); ++i) {
      ModelTensor& m = t.models[i];
      if (!m.sparsified) continue;
      if (spec_.sparsifier == Sparsifier::Random || spec_.sparsifier == Sparsifier::Della) {
        m.before = sum_from(s + i * 2 * ExactSum::kSize);
        set_l1_scale(m, sum_from(s + (i * 2 + 1) * ExactSum::kSize));
        continue;
      }
      MagnitudeCut* cuts[2] = {&m.lo, &m.hi};
      if (pass == kHighPass) {
        const uint64_t* block = s + i * (kHighBins + ExactSum::kSize);
        for (MagnitudeCut* c : cuts)
          if (c->kind == MagnitudeCut::Kind::Threshold) c->choose_bin(block);
        m.before = sum_from(block + kHighBins);
        if (m.hi.kind == MagnitudeCut::Kind::Everything) m.hi.kept_sum = m.before;
      } else if (pass == kLowPass) {
        for (int c = 0; c < 2; ++c) {
          if (cuts[c]->kind != MagnitudeCut::Kind::Threshold) continue;
          const uint64_t* block = s + (i * 2 + c) * (kLowBins + ExactSum::kSize);
          cuts[c]->above_bin_sum = sum_from(block + kLowBins);
          cuts[c]->choose_threshold(block);
        }
        if (t.rescale && t.norm == RescaleNorm::L1) set_l1_scale(m, minus(m.hi.kept_sum, m.lo.kept_sum));
      } else {
        for (int c = 0; c < 2; ++c) {
          if (!cuts[c]->counts_ties()) continue;
          const uint64_t* counts = s + (i * 2 + c) * t.units;
          cuts[c]->ties_before_unit.assign(t.units, 0);
          for (size_t u = 1; u < t.units; ++u)
            cuts[c]->ties_before_unit[u] = cuts[c]->ties_before_unit[u - 1] + counts[u - 1];
        }
      }
    }
    states_.erase(it);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const TensorState& t = tensors_[unit.tensor];
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const size_t n = t.models.size();
    // The sparsification masks first (they may need a whole row, or ties
    // counted in element order), then the combine, element by element.
    std::vector<uint8_t>& keep = scratch<uint8_t, 2>(n * unit.count);
    std::fill(keep.begin(), keep.begin() + n * unit.count, 1);
    const size_t unit_index = unit.first / t.unit_step;
    const std::vector<float>& base = base_values(unit, in);
    pool.parallel_for(n, [&](size_t begin, size_t end) {
      std::vector<float>& d = scratch<float, 0>(unit.count);
      for (size_t i = begin; i < end; ++i) {
        if (!t.models[i].sparsified) continue;
        deltas(unit, in, base.data(), i, d.data());
        uint8_t* k = keep.data() + i * unit.count;
        if (spec_.sparsifier == Sparsifier::Magnitude || spec_.sparsifier == Sparsifier::Outliers)
          magnitude_mask(t.models[i], unit_index, d.data(), unit.count, k);
        else
          random_mask(unit, t, i, d.data(), k);
      }
    });
    const TaskVectorArgs args = combine_args(t);
    std::mutex mu;
    pool.parallel_for(unit.count, [&](size_t begin, size_t end) {
      std::vector<uint64_t> bad(n + 2, 0);
      constexpr size_t kBlock = kBlockMax;
      std::vector<float>& b = scratch<float, 4>(kBlock);
      std::vector<float>& x = scratch<float, 5>(n * kBlock);
      std::vector<float>& v = scratch<float, 6>(n * kBlock);
      std::vector<float>& merged = scratch<float, 7>(kBlock);
      std::vector<const float*> xs(n);
      std::vector<const uint8_t*> ks(n);
      for (size_t first = begin; first < end; first += kBlock) {
        const size_t len = std::min(kBlock, end - first);
        widen(in[0], pt.sources[0].tensor->info.dtype, first, len, b.data());
        bad[0] += count_nonfinite(b.data(), len);
        for (size_t i = 0; i < n; ++i) {
          widen(in[i + 1], pt.sources[i + 1].tensor->info.dtype, first, len, x.data() + i * kBlock);
          bad[i + 1] += count_nonfinite(x.data() + i * kBlock, len);
          xs[i] = x.data() + i * kBlock;
          ks[i] = keep.data() + i * unit.count + first;
        }
        combine_block(args, b.data(), xs.data(), ks.data(), v.data(), merged.data(), len);
        bad[n + 1] += narrow(merged.data(), out, pt.out_dtype, first, len);
      }
      std::lock_guard lock(mu);
      for (size_t s = 0; s < bad.size(); ++s) nonfinite[s] += bad[s];
    });
  }

  bool has_device_kernels() const override { return true; }

  TaskVectorUnit device_unit(const WorkUnit& unit) const override {
    const TensorState& t = tensors_[unit.tensor];
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    TaskVectorUnit u;
    u.models = static_cast<int>(t.models.size());
    for (size_t s = 0; s < pt.sources.size(); ++s) u.dtype[s] = pt.sources[s].tensor->info.dtype;
    u.out_dtype = pt.out_dtype;
    u.combine = combine_args(t);
    u.key = t.key;
    u.first = unit.first;
    u.count = unit.count;
    u.cols = t.cols;
    const size_t unit_index = unit.first / t.unit_step;
    for (size_t i = 0; i < t.models.size(); ++i) {
      const ModelTensor& m = t.models[i];
      ModelMask& k = u.mask[i];
      k.model = static_cast<uint32_t>(pt.sources[i + 1].model);
      if (!m.sparsified) continue;
      switch (spec_.sparsifier) {
        case Sparsifier::Magnitude:
        case Sparsifier::Outliers:
          k.kind = MaskKind::Magnitude;
          k.hi = cut_rule(m.hi, unit_index);
          k.lo = cut_rule(m.lo, unit_index);
          break;
        case Sparsifier::Random:
          k.kind = MaskKind::Random;
          k.p = static_cast<float>(m.density);
          break;
        case Sparsifier::Della:
          k.kind = MaskKind::Della;
          k.low = static_cast<float>(m.density - m.epsilon);
          k.eps = static_cast<float>(m.epsilon);
          break;
        case Sparsifier::None: break;
      }
    }
    return u;
  }

  // The offsets of accumulate()'s state layout (state_size).
  TaskVectorStats device_statistics(int pass, const WorkUnit& unit) const override {
    const TensorState& t = tensors_[unit.tensor];
    const bool l1 = t.rescale && t.norm == RescaleNorm::L1;
    const size_t unit_index = unit.first / t.unit_step;
    TaskVectorStats s;
    const bool random = spec_.sparsifier == Sparsifier::Random || spec_.sparsifier == Sparsifier::Della;
    s.kind = random ? StatsKind::Norms
                    : pass == kHighPass ? StatsKind::HighBits : pass == kLowPass ? StatsKind::LowBits : StatsKind::Ties;
    for (size_t i = 0; i < t.models.size(); ++i) {
      const ModelTensor& m = t.models[i];
      ModelStats& o = s.model[i];
      o.active = m.sparsified;
      if (!m.sparsified) continue;
      const MagnitudeCut* cuts[2] = {&m.lo, &m.hi};
      switch (s.kind) {
        case StatsKind::HighBits:
          o.histogram[0] = i * (kHighBins + ExactSum::kSize);
          if (l1) o.sum[0] = o.histogram[0] + kHighBins;
          break;
        case StatsKind::LowBits:
          for (int c = 0; c < 2; ++c) {
            if (cuts[c]->kind != MagnitudeCut::Kind::Threshold) continue;
            o.histogram[c] = (i * 2 + c) * (kLowBins + ExactSum::kSize);
            o.high_bin[c] = cuts[c]->high_bin;
            if (l1) o.sum[c] = o.histogram[c] + kLowBins;
          }
          break;
        case StatsKind::Ties:
          for (int c = 0; c < 2; ++c) {
            if (!cuts[c]->counts_ties()) continue;
            o.tie_count[c] = (i * 2 + c) * t.units + unit_index;
            o.threshold[c] = cuts[c]->threshold;
          }
          break;
        case StatsKind::Norms:
          o.sum[0] = i * 2 * ExactSum::kSize;
          o.sum[1] = (i * 2 + 1) * ExactSum::kSize;
          break;
      }
    }
    return s;
  }

  std::string describe(size_t tensor) const override {
    const TensorState& t = tensors_[tensor];
    if (!t.merged) return "copied from the reference model";
    std::ostringstream s;
    auto per_model = [&](const char* name, auto get) {
      s << name;
      for (size_t i = 0; i < t.models.size(); ++i) s << (i ? "," : " ") << number_text(get(t.models[i]));
    };
    per_model("weight", [](const ModelTensor& m) { return double(m.weight); });
    if (spec_.sparsifier != Sparsifier::None) {
      s << "; ";
      per_model("density", [](const ModelTensor& m) { return m.density; });
    }
    if (spec_.sparsifier == Sparsifier::Outliers) {
      s << "; ";
      per_model("gamma", [](const ModelTensor& m) { return m.gamma; });
    }
    if (spec_.sparsifier == Sparsifier::Della) {
      s << "; ";
      per_model("epsilon", [](const ModelTensor& m) { return m.epsilon; });
    }
    s << "; normalize " << (t.normalize ? "true" : "false");
    if (spec_.sparsifier != Sparsifier::None)
      s << "; rescale " << (t.rescale ? (t.norm == RescaleNorm::L1 ? "l1" : "1/density") : "false");
    s << "; lambda " << number_text(t.lambda);
    return s.str();
  }

  std::string summary() const override {
    // The first merged tensor's parameters, and whether any other differs.
    std::map<std::string, size_t> distinct;
    std::string first;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (!tensors_[i].merged) continue;
      const std::string d = describe(i);
      if (first.empty()) first = d;
      ++distinct[d];
    }
    if (distinct.size() <= 1) return first;
    return first + " (first tensor; " + std::to_string(distinct.size()) +
           " distinct settings over the tensors, see --dry-run)";
  }

 private:
  void resolve(const Job& job, const PlannedTensor& pt, const ParamResolver& params, TensorState& t) const {
    if (pt.action != TensorAction::Merge) return;
    t.merged = true;
    t.normalize = params.get("normalize", pt).number != 0;
    t.lambda = params.get("lambda", pt).number;
    if (spec_.sparsifier != Sparsifier::None) {
      t.rescale = params.get("rescale", pt).number != 0;
      t.norm = params.get("rescale_norm", pt).text == "density" ? RescaleNorm::Density : RescaleNorm::L1;
    }
    t.key = philox_key(job.random_seed, pt.name);
    if (pt.shape.size() >= 2) {
      t.cols = pt.shape.back();
      t.rows = pt.numel / std::max<uint64_t>(1, t.cols);
    } else {
      t.cols = pt.numel;
    }
    for (size_t s = 1; s < pt.sources.size(); ++s) {
      const size_t model = pt.sources[s].model;
      ModelTensor m;
      const ParamValue w = params.get("weight", pt, model);
      m.weight = static_cast<float>(w.number);
      if (std::isinf(m.weight) || (w.number != 0 && m.weight == 0))
        throw Error(w.where + ": weight " + number_text(w.number) + " does not fit in float32 (tensor '" + pt.name + "')");
      if (spec_.sparsifier != Sparsifier::None) {
        const ParamValue density = params.get("density", pt, model);
        m.density = density.number;
        if (!(m.density > 0 && m.density <= 1))
          throw Error(density.where + ": density must be in (0, 1], got " + number_text(m.density) + " for tensor '" +
                      pt.name + "'");
        m.sparsified = m.density < 1;
        if (spec_.sparsifier == Sparsifier::Outliers) {
          const ParamValue gamma = params.get("gamma", pt, model);
          m.gamma = gamma.number;
          if (!(m.gamma >= 0 && m.gamma + m.density <= 1))
            throw Error(gamma.where + ": gamma must be >= 0 with gamma + density <= 1, got gamma " +
                        number_text(m.gamma) + " and density " + number_text(m.density) + " for tensor '" + pt.name +
                        "'");
        }
        if (spec_.sparsifier == Sparsifier::Della) {
          const ParamValue epsilon = params.get("epsilon", pt, model);
          m.epsilon = epsilon.number;
          if (m.sparsified && !(m.epsilon >= 0 && m.density - m.epsilon > 0 && m.density + m.epsilon < 1))
            throw Error(epsilon.where + ": della needs density - epsilon and density + epsilon inside (0, 1), got " +
                        number_text(m.density) + " -+ " + number_text(m.epsilon) + " for tensor '" + pt.name + "'");
          if (m.sparsified && pt.shape.size() > 2)
            throw Error(job.method_where + ": della ranks magnitudes along each row; tensor '" + pt.name + "' has " +
                        std::to_string(pt.shape.size()) + " dimensions");
        }
      }
      if (m.sparsified) {
        const uint64_t n = pt.numel;
        if (spec_.sparsifier == Sparsifier::Magnitude) {
          const uint64_t k = std::max<uint64_t>(1, static_cast<uint64_t>(m.density * double(n)));
          m.lo = MagnitudeCut::at(0, n);
          m.hi = MagnitudeCut::at(k, n);
        } else if (spec_.sparsifier == Sparsifier::Outliers) {
          // mergekit keeps ascending ranks [n_bot, n_bot + target); in
          // largest-first order that is [n - n_bot - target, n - n_bot).
          const uint64_t target = static_cast<uint64_t>(m.density * double(n));
          const uint64_t top = static_cast<uint64_t>(m.gamma * double(n));
          const uint64_t bottom = n > target + top ? n - target - top : 0;
          m.lo = MagnitudeCut::at(n - bottom - target, n);
          m.hi = MagnitudeCut::at(n - bottom, n);
        }
        if (t.rescale && t.norm == RescaleNorm::Density) {
          m.rescaled = true;
          m.scale = static_cast<float>(1.0 / m.density);
        }
      }
      t.models.push_back(m);
    }
    if (t.models.empty()) throw Error(job.method_where + ": " + spec_.name + " needs at least one model besides the base");
    if (t.models.size() > static_cast<size_t>(kMaxTaskVectorModels))
      throw Error(job.method_where + ": " + std::to_string(t.models.size()) + " models; " + spec_.name +
                  " takes at most " + std::to_string(kMaxTaskVectorModels));
    // mergekit: weights.sum(dim=0) in float32, replaced by 1 when |sum| < 1e-8.
    float sum = t.models[0].weight;
    for (size_t i = 1; i < t.models.size(); ++i) sum = add_rn(sum, t.models[i].weight);
    t.linear_divisor = std::fabs(sum) < 1e-8f ? 1.0f : sum;
  }

  TaskVectorArgs combine_args(const TensorState& t) const {
    TaskVectorArgs args;
    args.models = static_cast<int>(t.models.size());
    for (size_t i = 0; i < t.models.size(); ++i) {
      args.weight[i] = t.models[i].weight;
      args.scale[i] = t.models[i].scale;
      args.rescaled[i] = t.models[i].rescaled;
    }
    args.consensus = spec_.consensus;
    args.normalize = t.normalize;
    args.scale_by_lambda = t.lambda != 1;
    args.lambda = static_cast<float>(t.lambda);
    args.linear_divisor = t.linear_divisor;
    return args;
  }

  // A cut as the device kernels apply it to unit `unit_index`. Before the
  // tie pass has finished, no cut counts ties yet.
  static CutRule cut_rule(const MagnitudeCut& c, size_t unit_index) {
    CutRule r;
    r.min_key = smallest_kept(c);
    r.ties = c.counts_ties() && !c.ties_before_unit.empty();
    r.threshold = c.threshold;
    r.need = c.need;
    r.before = r.ties ? c.ties_before_unit[unit_index] : 0;
    return r;
  }

  // The unit's base values in float32, widened once for every model's
  // deltas (the calling thread's buffer; the pool's threads only read it).
  const std::vector<float>& base_values(const WorkUnit& unit, UnitInputs in) const {
    std::vector<float>& b = scratch<float, 3>(unit.count);
    widen(in[0], plan_.tensors[unit.tensor].sources[0].tensor->info.dtype, 0, unit.count, b.data());
    return b;
  }

  // d = x_i - base over the unit, in float32.
  void deltas(const WorkUnit& unit, UnitInputs in, const float* base, size_t i, float* d) const {
    widen(in[i + 1], plan_.tensors[unit.tensor].sources[i + 1].tensor->info.dtype, 0, unit.count, d);
    for (size_t j = 0; j < unit.count; ++j) d[j] = d[j] - base[j];
  }

  void accumulate_magnitude(int pass, const TensorState& t, const ModelTensor& m, size_t i, size_t unit_index,
                            std::span<const float> d, uint64_t* s) const {
    if (pass == kHighPass) {
      uint64_t* hist = s + i * (kHighBins + ExactSum::kSize);
      for (float v : d) ++hist[magnitude_key(v) >> 16];
      if (t.rescale && t.norm == RescaleNorm::L1) {
        ExactSum before;
        before.add_magnitudes(d.data(), d.size());
        add_to(hist + kHighBins, before);
      }
      return;
    }
    const MagnitudeCut* cuts[2] = {&m.lo, &m.hi};
    for (int c = 0; c < 2; ++c) {
      const MagnitudeCut& cut = *cuts[c];
      if (pass == kLowPass && cut.kind == MagnitudeCut::Kind::Threshold) {
        uint64_t* hist = s + (i * 2 + c) * (kLowBins + ExactSum::kSize);
        if (!(t.rescale && t.norm == RescaleNorm::L1)) {
          for (float v : d)
            if ((magnitude_key(v) >> 16) == cut.high_bin) ++hist[magnitude_key(v) & 0xFFFFu];
          continue;
        }
        ExactSum above;  // the kept entries' L1 norm, for the rescale
        for (float v : d) {
          const uint32_t key = magnitude_key(v);
          if ((key >> 16) == cut.high_bin) ++hist[key & 0xFFFFu];
          else if ((key >> 16) > cut.high_bin) above.add(f32_from_bits(key));
        }
        add_to(hist + kLowBins, above);
      } else if (pass == kTiePass && cut.counts_ties()) {
        uint64_t equal = 0;
        for (float v : d) equal += magnitude_key(v) == cut.threshold;
        s[(i * 2 + c) * t.units + unit_index] += equal;
      }
    }
  }

  // Elements of ranks [lo, hi) in the tensor's largest-first order.
  static void magnitude_mask(const ModelTensor& m, size_t unit_index, const float* d, size_t count, uint8_t* keep) {
    if (!m.lo.counts_ties() && !m.hi.counts_ties()) {
      // Every element equal to a threshold is on the kept side of its cut,
      // so each cut is one comparison: key >= its smallest kept key.
      threshold_mask(smallest_kept(m.hi), smallest_kept(m.lo), d, count, keep);
      return;
    }
    above_cut(m.hi, unit_index, d, count, keep, false);
    above_cut(m.lo, unit_index, d, count, keep, true);
  }

  // keep[j] = element j is among the cut's kept ones (`drop`: keep[j] &=
  // it is not). Ties at the threshold are kept in element order, the
  // count carried from the unit's first element.
  static void above_cut(const MagnitudeCut& c, size_t unit_index, const float* d, size_t count, uint8_t* keep,
                        bool drop) {
    if (drop && c.kind == MagnitudeCut::Kind::Nothing) return;
    if (!c.counts_ties()) {
      const uint64_t min = smallest_kept(c);
      for (size_t j = 0; j < count; ++j) {
        const uint8_t above = magnitude_key(d[j]) >= min;
        keep[j] = drop ? keep[j] & (above ^ 1) : above;
      }
      return;
    }
    uint64_t ties = c.ties_before_unit[unit_index];
    for (size_t j = 0; j < count; ++j) {
      const uint32_t key = magnitude_key(d[j]);
      const uint8_t equal = key == c.threshold;
      const uint8_t above = uint8_t(key > c.threshold) | (equal & uint8_t(ties < c.need));
      ties += equal;
      keep[j] = drop ? keep[j] & (above ^ 1) : above;
    }
  }

  // The cut keeps exactly the keys >= this (2^32: none).
  static uint64_t smallest_kept(const MagnitudeCut& c) {
    switch (c.kind) {
      case MagnitudeCut::Kind::Nothing: return uint64_t(1) << 32;
      case MagnitudeCut::Kind::Everything: return 0;
      case MagnitudeCut::Kind::Threshold: return c.threshold;
    }
    return 0;
  }

  // DARE: keep with probability density. DELLA: with probability
  // (density - epsilon) + rank_norm * 2 epsilon, rank_norm the entry's
  // magnitude rank in its row scaled to [0, 1], as mergekit's della_magprune
  // computes it in float32. Draws: Philox keyed by (seed, tensor), counted by
  // (model, element index).
  void random_mask(const WorkUnit& unit, const TensorState& t, size_t i, const float* d, uint8_t* keep) const {
    const ModelTensor& m = t.models[i];
    const uint32_t model = static_cast<uint32_t>(plan_.tensors[unit.tensor].sources[i + 1].model);
    if (spec_.sparsifier == Sparsifier::Random) {
      const float p = static_cast<float>(m.density);
      bernoulli_mask(t.key, model, unit.first, unit.count, p, keep);
      return;
    }
    const float low = static_cast<float>(m.density - m.epsilon), eps = static_cast<float>(m.epsilon);
    // Units hold whole rows (unit_alignment).
    std::vector<uint32_t> order(t.cols);
    for (uint64_t row = 0; row * t.cols < unit.count; ++row) {
      const float* r = d + row * t.cols;
      std::iota(order.begin(), order.end(), 0u);
      std::stable_sort(order.begin(), order.end(),
                       [&](uint32_t a, uint32_t b) { return magnitude_key(r[a]) < magnitude_key(r[b]); });
      const float span = static_cast<float>(t.cols - 1);
      for (uint64_t rank = 0; rank < t.cols; ++rank) {
        const uint32_t j = order[rank];
        float norm = t.cols > 1 ? div_rn(static_cast<float>(rank), span) : 0.0f;
        norm = std::min(1.0f, std::max(0.0f, norm));
        const float p = add_rn(low, mul_rn(mul_rn(norm, 2.0f), eps));
        const uint64_t element = unit.first + row * t.cols + j;
        keep[row * t.cols + j] = philox_uniform(t.key, model, element) < p;
      }
    }
  }

  TaskVectorSpec spec_;
  const MergePlan& plan_;
  std::vector<TensorState> tensors_;
  std::map<std::pair<int, size_t>, std::vector<uint64_t>> states_;
};

class TaskVectorMethod : public Method {
 public:
  explicit TaskVectorMethod(TaskVectorSpec spec) : spec_(std::move(spec)) {}

  std::string_view name() const override { return spec_.name; }

  std::vector<ParamSpec> parameters() const override {
    const auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    std::vector<ParamSpec> p = {
        {"weight", ParamType::Number, ParamScope::PerModel, std::nullopt, {}, "each model's task vector weight"},
        {"normalize", ParamType::Boolean, ParamScope::Job, flag(spec_.default_normalize), {},
         "divide by the sum of the (agreeing) weights"},
        {"lambda", ParamType::Number, ParamScope::Job, "1.0", {}, "scales the merged task vector"},
        {"int8_mask", ParamType::Boolean, ParamScope::Job, "false", {}, "accepted for mergekit; changes nothing here"},
    };
    if (spec_.sparsifier != Sparsifier::None) {
      p.push_back({"density", ParamType::Number, ParamScope::PerModel, "1.0", {}, "fraction of the task vector kept"});
      p.push_back({"rescale", ParamType::Boolean, ParamScope::Job, flag(spec_.default_rescale), {},
                   "rescale the kept entries"});
      p.push_back({"rescale_norm", ParamType::Choice, ParamScope::Job, "l1", {"l1", "density"},
                   "l1: match the task vector's L1 norm (mergekit); density: divide by the density (the DARE paper)"});
    }
    if (spec_.sparsifier == Sparsifier::Outliers)
      p.push_back({"gamma", ParamType::Number, ParamScope::PerModel, "0.01", {}, "fraction of the largest entries dropped"});
    if (spec_.sparsifier == Sparsifier::Della)
      p.push_back({"epsilon", ParamType::Number, ParamScope::PerModel, "0.15", {}, "spread of the keep probabilities"});
    return p;
  }

  std::vector<size_t> sources(const Job& job) const override {
    if (job.models.empty() || job.models[0].role != ModelRole::Base)
      throw Error(config_line(job) + ": key 'base_model': missing: " + spec_.name +
                  " adds the models' task vectors (model - base) to a base model");
    return every_model(job);
  }

  uint64_t unit_alignment(const Job&, const PlannedTensor& t) const override {
    if (spec_.sparsifier != Sparsifier::Della || t.action != TensorAction::Merge) return 1;
    return t.row_length();
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedTaskVector>(spec_, job, plan, params);
  }

 private:
  TaskVectorSpec spec_;
};

}  // namespace

std::unique_ptr<Method> make_task_vector_method(TaskVectorSpec spec) {
  return std::make_unique<TaskVectorMethod>(std::move(spec));
}

}  // namespace cocktail
