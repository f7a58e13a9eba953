// NearSwap (alchemonaut, QuartetAnemoi; mergekit's nearswap.py): per element,
// take the other model b where it is near the base a and keep a elsewhere,
//   w = clamp(t / max(|a - b|, 1e-6), 0, 1),   out = w * b + (1 - w) * a,
// in float32, each step rounded as torch does (no fused multiply-add), NaN
// passing through the clamps. No statistics: one pass.
#include <cmath>

#include "merge/methods/elementwise.hpp"
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

class PreparedNearswap : public NoStatistics {
 public:
  PreparedNearswap(const MergePlan& plan, const ParamResolver& params) : plan_(plan), t_(resolve_t(plan, params)) {}

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const float t = static_cast<float>(t_[unit.tensor]);
    apply_elementwise(pt, unit, in, out, pool, nonfinite,
                      [&] { return [t](const float* x, size_t) { return nearswap(x[0], x[1], t); }; });
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
