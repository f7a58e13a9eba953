// Arcee Fusion (mergekit's arcee_fusion.py): fuses one model x into its base
// b where the change matters. Per tensor, with rows along the last dimension
// (a 1-D tensor is one row):
//   importance = |x - b| * KL(softmax(x_row) + eps || softmax(b_row) + eps)
//   threshold  = median + 1.5 (q3 - q1) of the tensor's importances
//   out        = b + (x - b) * (importance >= threshold)
// eps = 1e-8. mergekit estimates the quartiles from 1M values drawn at
// random (with replacement) when the tensor is larger; here they are exact
// order statistics of the whole tensor (sorted[int(q (n - 1))], q computed
// in float32 as there), found in two histogram passes over the float32
// bits, summed across chunks and ranks as integers. Units hold whole rows,
// so each row's KL is computed inside one unit, in the same order every
// time (the softmax sums in double).
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "element_math.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/registry.hpp"
#include "merge/methods/two_models.hpp"
#include "merge/methods/widen.hpp"

namespace cocktail {
namespace {

constexpr uint32_t kBins = 1u << 16;          // 16 bits per pass
constexpr float kQuantiles[3] = {0.25f, 0.5f, 0.75f};

// An order-preserving key of a float32 (NaN above everything, as torch sorts).
uint32_t order_key(float x) {
  const uint32_t u = f32_bits(canonicalize_nan(x));
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}
float from_order_key(uint32_t k) { return f32_from_bits((k & 0x80000000u) ? k & 0x7FFFFFFFu : ~k); }

// The importances of a unit's rows (x and b of `cols` columns each).
void importances(const float* x, const float* b, size_t count, size_t cols, float* out, ThreadPool& pool) {
  pool.parallel_for(count / cols, [&](size_t first_row, size_t last_row) {
    std::vector<float> ex(cols), eb(cols);
    for (size_t r = first_row; r < last_row; ++r) {
      const float* xr = x + r * cols;
      const float* br = b + r * cols;
      float mx = -INFINITY, mb = -INFINITY;
      for (size_t c = 0; c < cols; ++c) mx = std::fmax(mx, xr[c]), mb = std::fmax(mb, br[c]);
      double sx = 0, sb = 0;
      for (size_t c = 0; c < cols; ++c) {
        ex[c] = std::exp(xr[c] - mx);
        eb[c] = std::exp(br[c] - mb);
        sx += ex[c];
        sb += eb[c];
      }
      double kl = 0;
      for (size_t c = 0; c < cols; ++c) {
        const float p = static_cast<float>(ex[c] / sx) + 1e-8f, q = static_cast<float>(eb[c] / sb) + 1e-8f;
        kl += double(p * std::log(p / q));
      }
      const float klf = static_cast<float>(kl);
      for (size_t c = 0; c < cols; ++c) out[r * cols + c] = std::fabs(xr[c] - br[c]) * klf;
    }
  });
}

struct FusionTensor {
  bool merged = false;
  uint64_t rank[3] = {};   // the order statistics wanted (0-based, ascending)
  uint32_t high[3] = {};   // after pass 0: their top 16 key bits
  uint64_t below[3] = {};  // elements in lower bins
  float threshold = 0;     // after pass 1
};

class PreparedFusion : public PreparedMethod {
 public:
  explicit PreparedFusion(const MergePlan& plan) : plan_(plan), tensors_(plan.tensors.size()) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      FusionTensor& t = tensors_[i];
      t.merged = pt.action == TensorAction::Merge && pt.numel > 0;
      if (!t.merged) continue;
      // torch: (q * (n - 1)).long() with q a float32 tensor.
      for (int k = 0; k < 3; ++k) t.rank[k] = static_cast<uint64_t>(kQuantiles[k] * static_cast<float>(pt.numel - 1));
    }
  }

  int passes() const override { return 2; }
  bool reads(int, size_t tensor) const override { return tensors_[tensor].merged; }

  std::span<uint64_t> state(int pass, size_t tensor) override {
    std::vector<uint64_t>& s = states_[{pass, tensor}];
    if (s.empty()) s.assign(pass == 0 ? kBins : 3 * kBins, 0);
    return s;
  }

  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override {
    const FusionTensor& t = tensors_[unit.tensor];
    const std::vector<float>& imp = unit_importances(unit, in, pool);
    uint64_t* s = state(pass, unit.tensor).data();
    std::mutex mu;
    pool.parallel_for(unit.count, [&](size_t begin, size_t end) {
      std::vector<uint64_t> local(pass == 0 ? kBins : 3 * kBins, 0);
      for (size_t j = begin; j < end; ++j) {
        const uint32_t key = order_key(imp[j]);
        if (pass == 0) {
          local[key >> 16] += 1;
          continue;
        }
        for (int k = 0; k < 3; ++k)
          if ((key >> 16) == t.high[k]) local[k * kBins + (key & 0xFFFFu)] += 1;
      }
      std::lock_guard lock(mu);
      for (size_t k = 0; k < local.size(); ++k) s[k] += local[k];
    });
  }

  void finish(int pass, size_t tensor) override {
    auto it = states_.find({pass, tensor});
    if (it == states_.end()) return;
    FusionTensor& t = tensors_[tensor];
    float q[3];
    for (int k = 0; k < 3; ++k) {
      const uint64_t* h = it->second.data() + (pass == 0 ? 0 : k * kBins);
      uint64_t seen = pass == 0 ? 0 : t.below[k];
      for (uint32_t b = 0; b < kBins; ++b) {
        if (seen + h[b] > t.rank[k]) {
          if (pass == 0) {
            t.high[k] = b;
            t.below[k] = seen;
          } else {
            q[k] = from_order_key((t.high[k] << 16) | b);
          }
          break;
        }
        seen += h[b];
      }
    }
    if (pass == 1) t.threshold = q[1] + 1.5f * (q[2] - q[0]);
    states_.erase(it);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const FusionTensor& t = tensors_[unit.tensor];
    const std::vector<float>& imp = unit_importances(unit, in, pool);
    apply_elementwise(pt, unit, in, out, pool, nonfinite, [&] {
      return [&](const float* x, size_t j) { return x[0] + (x[1] - x[0]) * (imp[j] >= t.threshold ? 1.0f : 0.0f); };
    });
  }

  std::string describe(size_t tensor) const override {
    return tensors_[tensor].merged ? "fused where importance >= median + 1.5 IQR" : "copied from the reference model";
  }
  std::string summary() const override { return "the other model's changes where they matter (exact quartiles)"; }

 private:
  // The unit's importances, in a per-thread buffer.
  const std::vector<float>& unit_importances(const WorkUnit& unit, UnitInputs in, ThreadPool& pool) const {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    thread_local std::vector<float> b, x, imp;
    b.resize(unit.count);
    x.resize(unit.count);
    imp.resize(unit.count);
    widen(in[0], pt.sources[0].tensor->info.dtype, 0, unit.count, b.data());
    widen(in[1], pt.sources[1].tensor->info.dtype, 0, unit.count, x.data());
    importances(x.data(), b.data(), unit.count, pt.row_length(), imp.data(), pool);
    return imp;
  }

  const MergePlan& plan_;
  std::vector<FusionTensor> tensors_;
  std::map<std::pair<int, size_t>, std::vector<uint64_t>> states_;
};

class ArceeFusionMethod : public Method {
 public:
  std::string_view name() const override { return "arcee_fusion"; }
  std::vector<ParamSpec> parameters() const override { return {}; }

  std::vector<size_t> sources(const Job& job) const override {
    return base_and_one_other(job, "arcee_fusion", "fuses one model's important changes into its base");
  }

  uint64_t unit_alignment(const Job&, const PlannedTensor& t) const override {
    return t.action == TensorAction::Merge ? t.row_length() : 1;
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());  // it takes none: any setting is an error naming it
    (void)params;
    return std::make_unique<PreparedFusion>(plan);
  }
};

}  // namespace

const Method& arcee_fusion_method() {
  static const ArceeFusionMethod m;
  return m;
}

}  // namespace cocktail
