// SLERP (Shoemake 1985; mergekit's slerp.py): per tensor, the spherical
// interpolation between the base a and the other model b at `t`,
//   out = sin((1-t) theta) / sin theta * a + sin(t theta) / sin theta * b,
//   cos theta = <a, b> / (|a| |b|),
// and the linear (1-t) a + t b where |cos theta| > 0.9995 (nearly colinear).
// One statistics pass sums <a, a>, <b, b> and <a, b> exactly over the
// tensor's chunks and ranks (kernels/exact_dot.hpp); the two coefficients
// then follow mergekit's float32 steps, and the merge itself is a weighted
// sum with those per-tensor weights, on the CPU or the GPU kernels.
#include <cmath>

#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"
#include "merge/methods/two_models.hpp"

namespace cocktail {
namespace {

constexpr Gram kGram{2};  // <a, a>, <b, b>, <a, b>

struct SlerpTensor {
  double t = NAN;                // NaN: not merged (copied)
  float coef_a = 0, coef_b = 0;  // after the statistics pass
};

// mergekit 0.1.5's coefficients from the exact sums, in its float32 steps:
// norms at most eps = 1e-8 count as 1, the dot product of the normalised
// tensors is clamped to [-1, 1], and NaN or Inf in either tensor makes it
// NaN (so the whole output), as there.
void set_coefficients(SlerpTensor& s, double aa, double bb, double ab) {
  auto norm = [](double sq) {
    const float n = static_cast<float>(std::sqrt(sq));
    return n > 1e-8f ? n : 1.0f;
  };
  const float na = norm(aa), nb = norm(bb);
  float dot = static_cast<float>(ab / (double(na) * double(nb)));
  if (!std::isfinite(aa) || !std::isfinite(bb)) dot = NAN;
  dot = std::isnan(dot) ? dot : std::fmin(1.0f, std::fmax(-1.0f, dot));
  const float t = static_cast<float>(s.t), one_minus_t = 1.0f - t;
  const bool linear = std::fabs(dot) > 0.9995f;
  const float theta = std::acos(linear ? 0.0f : dot);
  const float sin_theta = std::sin(theta);
  s.coef_a = linear ? one_minus_t : std::sin(one_minus_t * theta) / sin_theta;
  s.coef_b = linear ? t : std::sin(t * theta) / sin_theta;
}

class PreparedSlerp : public GramPass {
 public:
  PreparedSlerp(const MergePlan& plan, const ParamResolver& params)
      : GramPass(plan, kGram, false), tensors_(plan.tensors.size()) {
    const std::vector<double> t = resolve_t(plan, params);
    for (size_t i = 0; i < t.size(); ++i) tensors_[i].t = t[i];
  }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override {
    set_coefficients(tensors_[tensor], sums[0], sums[1], sums[kGram.pair(0, 1)]);
  }

  bool weighted_by_tensor() const override { return true; }
  std::vector<float> tensor_weights(size_t tensor) const override {
    return {tensors_[tensor].coef_a, tensors_[tensor].coef_b};
  }

  std::string describe(size_t tensor) const override { return describe_t(tensors_[tensor].t); }

  std::string summary() const override {
    std::vector<double> t;
    for (const SlerpTensor& s : tensors_) t.push_back(s.t);
    return summarize_t(t);
  }

 private:
  std::vector<SlerpTensor> tensors_;
};

class SlerpMethod : public Method {
 public:
  std::string_view name() const override { return "slerp"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"t", ParamType::Number, ParamScope::Job, std::nullopt, {}, "0: the base model, 1: the other model"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    return base_and_one_other(job, "slerp", "interpolates from the base model (t = 0) to one other");
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedSlerp>(plan, params);
  }
};

}  // namespace

const Method& slerp_method() {
  static const SlerpMethod m;
  return m;
}

}  // namespace cocktail
