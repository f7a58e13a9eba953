// NearSwap (alchemonaut, QuartetAnemoi; mergekit's nearswap.py): per element,
// take the other model b where it is near the base a and keep a elsewhere,
//   w = clamp(t / max(|a - b|, 1e-6), 0, 1),   out = w * b + (1 - w) * a,
// in float32, each step rounded as torch does (no fused multiply-add), NaN
// passing through the clamps. No statistics: one pass.
#include <cmath>
#include <mutex>

#include "element_math.hpp"
#include "merge/methods/registry.hpp"
#include "merge/methods/two_models.hpp"

namespace cocktail {
namespace {

// torch.clamp: NaN stays NaN.
float clamp_min(float x, float lo) { return x < lo ? lo : x; }
float clamp_max(float x, float hi) { return x > hi ? hi : x; }

// torch computes a number over a tensor as the tensor's reciprocal times the
// number: two roundings, kept so the bytes are mergekit's.
float nearswap(float a, float b, float t) {
  const float absdiff = std::fabs(a - b);
  const float w = clamp_max(clamp_min((1.0f / clamp_min(absdiff, 1e-6f)) * t, 0.0f), 1.0f);
  return w * b + (1.0f - w) * a;
}

class PreparedNearswap : public PreparedMethod {
 public:
  PreparedNearswap(const MergePlan& plan, const ParamResolver& params) : plan_(plan), t_(resolve_t(plan, params)) {}

  int passes() const override { return 0; }
  bool reads(int, size_t) const override { return false; }
  std::span<uint64_t> state(int, size_t) override { return {}; }
  void accumulate(int, const WorkUnit&, UnitInputs, ThreadPool&) override {}
  void finish(int, size_t) override {}

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const DType da = pt.sources[0].tensor->info.dtype, db = pt.sources[1].tensor->info.dtype;
    const float t = static_cast<float>(t_[unit.tensor]);
    std::mutex mu;
    pool.parallel_for(unit.count, [&](size_t begin, size_t end) {
      uint64_t bad[3] = {0, 0, 0};
      for (size_t j = begin; j < end; ++j) {
        const float a = load_as_f32(in[0], da, j), b = load_as_f32(in[1], db, j);
        bad[0] += is_nonfinite(a);
        bad[1] += is_nonfinite(b);
        store_from_f32(out, pt.out_dtype, j, canonicalize_nan(nearswap(a, b, t)));
        bad[2] += is_nonfinite(load_as_f32(out, pt.out_dtype, j));
      }
      std::lock_guard lock(mu);
      for (int s = 0; s < 3; ++s) nonfinite[s] += bad[s];
    });
  }

  std::string describe(size_t tensor) const override { return describe_t(t_[tensor]); }
  std::string summary() const override { return summarize_t(t_); }

 private:
  const MergePlan& plan_;
  std::vector<double> t_;  // per tensor; NaN: not merged
};

class NearswapMethod : public Method {
 public:
  std::string_view name() const override { return "nearswap"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"t", ParamType::Number, ParamScope::Job, std::nullopt, {}, "distance below which b replaces the base"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    return base_and_one_other(job, "nearswap", "swaps the base's elements for one other model's where they are near");
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedNearswap>(plan, params);
  }
};

}  // namespace

const Method& nearswap_method() {
  static const NearswapMethod m;
  return m;
}

}  // namespace cocktail
