// SCE: Select, Calculate, Erase (FuseChat 2, arXiv 2408.07990; mergekit's
// sce.py). Per tensor, with the task vectors d_i = x_i - base of N models:
//   select:    keep the int(nonzero(var) * select_topk) elements of largest
//              variance across the d_i (population variance; all when
//              select_topk >= 1, none when <= 0), zero the rest in every d_i
//   calculate: w_i = mean(d_i^2) / sum_k mean(d_k^2)  (1/N if that sum < 1e-6)
//   erase:     per element, keep d_i whose sign is the sign of sum_i d_i
//              (TIES' election, ties to +)
//   out = base + sum_i w_i e_i d_i / max(sum_i w_i e_i, 1e-6)
// in float32 as torch does. The selection is an exact top-k over the whole
// tensor by the variance's float32 bits, in histogram passes over its chunks
// (magnitude_select.hpp: among equal variances the lower index first, the
// stable order the fixtures pin down); the weights are exact sums of the
// masked squares. Passes: the cut's two histograms, a tie count when the
// cut splits equal variances, the weights; then the apply.
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "element_math.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/magnitude_select.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

enum Pass { kHighPass, kLowPass, kTiePass, kWeightPass, kPasses };

struct SceTensor {
  bool merged = false;
  double topk = 1;
  bool selects = false;  // 0 < topk < 1: the variance cut decides
  MagnitudeCut cut = MagnitudeCut::at(1, 1);  // Everything until the passes say otherwise
  uint64_t first_unit = 0, unit_step = 1, units = 0;
  std::vector<float> weights;  // after the weight pass
};

// Element j's variance across the task vectors, in float32 as torch's
// var(unbiased=False) returns it (computed in double there too).
float variance(const float* d, size_t n) {
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += d[i];
  mean /= double(n);
  double sq = 0;
  for (size_t i = 0; i < n; ++i) sq += (d[i] - mean) * (d[i] - mean);
  return static_cast<float>(sq / double(n));
}

class PreparedSce : public PreparedMethod {
 public:
  PreparedSce(const MergePlan& plan, const ParamResolver& params)
      : plan_(plan), models_(plan_models(plan)), tensors_(plan.tensors.size()) {
    for (size_t u = 0; u < plan.units.size(); ++u) {
      SceTensor& t = tensors_[plan.units[u].tensor];
      if (t.units++ == 0) {
        t.first_unit = u;
        t.unit_step = plan.units[u].count;
      }
    }
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      SceTensor& t = tensors_[i];
      t.merged = true;
      const ParamValue v = params.get("select_topk", pt);
      t.topk = v.number;
      t.selects = t.topk > 0 && t.topk < 1;
      if (t.topk <= 0) t.cut = MagnitudeCut::at(0, pt.numel);
    }
  }

  int passes() const override { return kPasses; }

  bool reads(int pass, size_t tensor) const override {
    const SceTensor& t = tensors_[tensor];
    if (!t.merged) return false;
    switch (pass) {
      case kHighPass: return t.selects;
      case kLowPass: return t.selects && t.cut.kind == MagnitudeCut::Kind::Threshold;
      case kTiePass: return t.selects && t.cut.counts_ties();
      default: return true;
    }
  }

  std::span<uint64_t> state(int pass, size_t tensor) override {
    std::vector<uint64_t>& s = states_[{pass, tensor}];
    if (s.empty()) {
      const size_t size[kPasses] = {kHighBins + 1, kLowBins, tensors_[tensor].units, models_ * ExactSum::kSize};
      s.assign(size[pass], 0);
    }
    return s;
  }

  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override {
    const SceTensor& t = tensors_[unit.tensor];
    uint64_t* s = state(pass, unit.tensor).data();
    const size_t unit_index = unit.first / t.unit_step;
    const std::vector<uint8_t> keep = pass == kWeightPass ? unit_keep(unit, in) : std::vector<uint8_t>{};
    std::mutex mu;
    pool.parallel_for(unit.count, [&](size_t begin, size_t end) {
      std::vector<uint64_t> local(pass == kHighPass ? kHighBins + 1 : pass == kLowPass ? kLowBins : 0, 0);
      std::vector<ExactSum> squares(pass == kWeightPass ? models_ : 0);
      uint64_t ties = 0;  // the tie pass needs only a count per unit
      std::vector<float> d(models_);
      for (size_t j = begin; j < end; ++j) {
        load_deltas(unit.tensor, in, j, d.data());
        const uint32_t key = pass == kWeightPass ? 0 : magnitude_key(variance(d.data(), models_));
        switch (pass) {
          case kHighPass:
            local[key >> 16] += 1;
            local[kHighBins] += key == 0;
            break;
          case kLowPass:
            if ((key >> 16) == t.cut.high_bin) local[key & 0xFFFFu] += 1;
            break;
          case kTiePass: ties += key == t.cut.threshold; break;
          case kWeightPass:
            if (keep[j])
              for (size_t i = 0; i < models_; ++i) squares[i].add(d[i] * d[i]);
            break;
        }
      }
      std::lock_guard lock(mu);
      for (size_t k = 0; k < local.size(); ++k) s[k] += local[k];
      if (pass == kTiePass) s[unit_index] += ties;
      for (size_t i = 0; i < squares.size(); ++i)
        for (int k = 0; k < ExactSum::kSize; ++k) s[i * ExactSum::kSize + k] += squares[i].bins[k];
    });
  }

  void finish(int pass, size_t tensor) override {
    auto it = states_.find({pass, tensor});
    if (it == states_.end()) return;
    const uint64_t* s = it->second.data();
    SceTensor& t = tensors_[tensor];
    const uint64_t n = plan_.tensors[tensor].numel;
    if (pass == kHighPass) {
      // torch: int(count_nonzero(var) * select_topk), a float32 product.
      const uint64_t nonzero = n - s[kHighBins];
      const auto k = static_cast<uint64_t>(static_cast<float>(nonzero) * static_cast<float>(t.topk));
      t.cut = MagnitudeCut::at(k, n);
      if (t.cut.kind == MagnitudeCut::Kind::Threshold) t.cut.choose_bin(s);
    } else if (pass == kLowPass) {
      t.cut.choose_threshold(s);
    } else if (pass == kTiePass) {
      t.cut.ties_before_unit.assign(t.units, 0);
      for (size_t u = 1; u < t.units; ++u) t.cut.ties_before_unit[u] = t.cut.ties_before_unit[u - 1] + s[u - 1];
    } else {
      std::vector<float> mean(models_);
      float total = 0;
      for (size_t i = 0; i < models_; ++i) {
        ExactSum sq;
        std::copy(s + i * ExactSum::kSize, s + (i + 1) * ExactSum::kSize, sq.bins);
        mean[i] = static_cast<float>(sq.value()) / static_cast<float>(n);
        total = total + mean[i];
      }
      t.weights.resize(models_);
      for (size_t i = 0; i < models_; ++i)
        t.weights[i] = std::fabs(total) < 1e-6f ? 1.0f / static_cast<float>(models_) : mean[i] / total;
    }
    states_.erase(it);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const SceTensor& t = tensors_[unit.tensor];
    const std::vector<uint8_t> keep = unit_keep(unit, in);
    apply_elementwise(pt, unit, in, out, pool, nonfinite, [&] {
      return [&, d = std::vector<float>(models_)](const float* x, size_t j) mutable {
        float sum = 0;
        for (size_t i = 0; i < models_; ++i) {
          d[i] = keep[j] ? x[i + 1] - x[0] : 0.0f * (x[i + 1] - x[0]);  // torch multiplies by the 0/1 mask
          sum = sum + d[i];
        }
        const float majority = sum >= 0 ? 1.0f : -1.0f;
        float merged = 0, weight = 0;
        for (size_t i = 0; i < models_; ++i) {
          const float sign = d[i] > 0 ? 1.0f : d[i] < 0 ? -1.0f : d[i] == 0 ? 0.0f : d[i];
          const float erased = t.weights[i] * (sign == majority ? 1.0f : 0.0f);
          merged = merged + d[i] * erased;
          weight = weight + erased;
        }
        return x[0] + merged / std::fmax(weight, 1e-6f);
      };
    });
  }

  std::string describe(size_t tensor) const override {
    const SceTensor& t = tensors_[tensor];
    if (!t.merged) return "copied from the reference model";
    return "select_topk " + number_text(t.topk);
  }
  std::string summary() const override {
    return std::to_string(models_) + " task vectors; top variance selected, weights from their squares";
  }

 private:
  static size_t plan_models(const MergePlan& plan) {
    for (const auto& t : plan.tensors)
      if (t.action == TensorAction::Merge) return t.sources.size() - 1;
    return 0;
  }

  void load_deltas(size_t tensor, UnitInputs in, size_t j, float* d) const {
    const PlannedTensor& pt = plan_.tensors[tensor];
    const float base = load_as_f32(in[0], pt.sources[0].tensor->info.dtype, j);
    for (size_t i = 0; i < models_; ++i) d[i] = load_as_f32(in[i + 1], pt.sources[i + 1].tensor->info.dtype, j) - base;
  }

  // Which of the unit's elements survive the variance cut: in element
  // order, since an element at the threshold is kept by its tie index.
  std::vector<uint8_t> unit_keep(const WorkUnit& unit, UnitInputs in) const {
    const SceTensor& t = tensors_[unit.tensor];
    std::vector<uint8_t> keep(unit.count, t.topk <= 0 ? 0 : 1);
    if (!t.selects) return keep;
    uint64_t tie = t.cut.counts_ties() ? t.cut.ties_before_unit[unit.first / t.unit_step] : 0;
    std::vector<float> d(models_);
    for (size_t j = 0; j < unit.count; ++j) {
      load_deltas(unit.tensor, in, j, d.data());
      const uint32_t key = magnitude_key(variance(d.data(), models_));
      keep[j] = t.cut.keeps(key, key == t.cut.threshold ? tie++ : 0);
    }
    return keep;
  }

  const MergePlan& plan_;
  size_t models_;
  std::vector<SceTensor> tensors_;
  std::map<std::pair<int, size_t>, std::vector<uint64_t>> states_;
};

class SceMethod : public Method {
 public:
  std::string_view name() const override { return "sce"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"select_topk", ParamType::Number, ParamScope::Job, "1.0", {}, "the fraction of elements kept, by variance"},
            {"int8_mask", ParamType::Boolean, ParamScope::Job, "false", {}, "accepted; it only changes mergekit's memory"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    return base_and_task_vectors(job, name());
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedSce>(plan, params);
  }
};

}  // namespace

const Method& sce_method() {
  static const SceMethod m;
  return m;
}

}  // namespace cocktail
