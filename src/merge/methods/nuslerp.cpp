// NuSLERP (mergekit's nuslerp.py): slerp between two models weighted
// w_1, w_2 (t = w_2 / (w_1 + w_2), 0.5 when the sum is below 1e-6), on
// their task vectors when a base model is given (out = base + the slerp of
// x_1 - base and x_2 - base), each tensor flattened (nuslerp_flatten, the
// default):
//   u_i = v_i / max(|v_i|, 1e-7),  cos = clamp(<u_1, u_2>, -1, 1)
//   colinear (1 - cos^2 <= 1e-16):  (1 - t) v_1 + t v_2
//   otherwise:  (sin((1 - t) theta) v_1 + sin(t theta) v_2) / sin(theta)
// per element in float32 as torch does (t itself in double, as Python
// computes it). One statistics pass: the two vectors' Gram sums, exactly.
// With nuslerp_flatten: false, an angle per row (the last dimension; a 1-D
// tensor is one row): units hold whole rows, each row's sums taken in its
// unit, in double; no statistics pass.
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"
#include "merge/methods/two_models.hpp"

namespace cocktail {
namespace {

constexpr Gram kGram{2};

struct NuslerpTensor {
  double t = NAN;  // NaN: not merged (copied)
  // After the statistics pass: the per-element factors.
  bool colinear = false;
  float a0 = 0, a1 = 0, sin_theta = 1;  // sin((1-t) theta), sin(t theta), or (1-t), t when colinear
  bool per_row = false;                 // nuslerp_flatten: false: the factors per row, in the apply

  // The factors from the Gram sums of the two vectors (the tensor's or a row's).
  void set_factors(double aa, double bb, double ab) {
    auto norm = [](double sq) { return std::fmax(static_cast<float>(std::sqrt(sq)), 1e-7f); };
    float cos = static_cast<float>(ab / (double(norm(aa)) * double(norm(bb))));
    if (!std::isfinite(aa) || !std::isfinite(bb)) cos = NAN;  // torch's sums are NaN then
    cos = std::isnan(cos) ? cos : std::fmin(1.0f, std::fmax(-1.0f, cos));
    colinear = 1.0f - cos * cos <= 1e-16f;
    const float theta = std::acos(colinear ? 0.0f : cos);
    sin_theta = std::sin(theta);
    // (1 - t) and t are Python floats, rounded to float32 where they meet a tensor.
    const float one_minus_t_f = static_cast<float>(1.0 - t), t_f = static_cast<float>(t);
    a0 = colinear ? one_minus_t_f : std::sin(one_minus_t_f * theta);
    a1 = colinear ? t_f : std::sin(t_f * theta);
  }
};

class PreparedNuslerp : public GramPass {
 public:
  PreparedNuslerp(const MergePlan& plan, const ParamResolver& params, bool has_base, const std::vector<size_t>& models)
      : GramPass(plan, kGram, has_base), has_base_(has_base), tensors_(plan.tensors.size()) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      const double w1 = params.get("weight", pt, models[0]).number;
      const double w2 = params.get("weight", pt, models[1]).number;
      const double total = w1 + w2;
      tensors_[i].t = std::fabs(total) < 1e-6 ? 0.5 : w2 / total;
      tensors_[i].per_row = params.get("nuslerp_flatten", pt).number == 0;
    }
  }

  bool reads(int pass, size_t tensor) const override { return !tensors_[tensor].per_row && GramPass::reads(pass, tensor); }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override {
    tensors_[tensor].set_factors(sums[0], sums[1], sums[kGram.pair(0, 1)]);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const uint64_t cols = tensors_[unit.tensor].per_row ? pt.row_length() : 1;
    apply_elementwise(
        pt, unit, in, out, pool, nonfinite,
        [&] {
          return [&, n = tensors_[unit.tensor]](const float* x, size_t j) mutable {
            if (n.per_row && j % cols == 0) {
              const std::vector<double> sums = row_gram(kGram, pt, in, has_base_, j, cols);
              n.set_factors(sums[0], sums[1], sums[kGram.pair(0, 1)]);
            }
            const float base = has_base_ ? x[0] : 0.0f;
            const float v0 = has_base_ ? x[1] - base : x[0], v1 = has_base_ ? x[2] - base : x[1];
            const float r = n.colinear ? n.a0 * v0 + n.a1 * v1 : (n.a0 * v0 + n.a1 * v1) / n.sin_theta;
            return has_base_ ? base + r : r;
          };
        },
        cols);
  }

  std::string describe(size_t tensor) const override { return describe_t(tensors_[tensor].t); }
  std::string summary() const override {
    std::vector<double> t;
    for (const NuslerpTensor& n : tensors_) t.push_back(n.t);
    return summarize_t(t) + (has_base_ ? " (of the task vectors)" : "");
  }

 private:
  bool has_base_;
  std::vector<NuslerpTensor> tensors_;
};

class NuslerpMethod : public Method {
 public:
  std::string_view name() const override { return "nuslerp"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"weight", ParamType::Number, ParamScope::PerModel, std::nullopt, {}, "t = w_2 / (w_1 + w_2)"},
            {"nuslerp_flatten", ParamType::Boolean, ParamScope::Job, "true", {}, "one angle per tensor (false: per row)"},
            {"nuslerp_row_wise", ParamType::Boolean, ParamScope::Job, "false", {}, "with flatten false: per column (not yet)"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    const std::string file_line = config_line(job);
    const size_t base = !job.models.empty() && job.models[0].role == ModelRole::Base ? 1 : 0;
    if (job.models.size() - base != 2)
      throw Error(file_line + ": key 'models': nuslerp merges exactly two models (besides an optional base_model); got " +
                  std::to_string(job.models.size() - base));
    if (base) return {0, 1, 2};
    return {0, 1};
  }

  uint64_t unit_alignment(const Job& job, const PlannedTensor& t) const override {
    if (t.action != TensorAction::Merge) return 1;
    return ParamResolver(job, parameters()).get("nuslerp_flatten", t).number == 0 ? t.row_length() : 1;
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    for (const auto& t : plan.tensors) {
      const ParamValue columns = params.get("nuslerp_row_wise", t);
      if (params.get("nuslerp_flatten", t).number == 0 && columns.number != 0)
        throw Error(columns.where + ": nuslerp per column (nuslerp_row_wise with nuslerp_flatten: false) is not "
                    "supported yet; per row (nuslerp_row_wise: false) and flattened are");
    }
    const bool has_base = job.models[0].role == ModelRole::Base;
    const std::vector<size_t> models = has_base ? std::vector<size_t>{1, 2} : std::vector<size_t>{0, 1};
    return std::make_unique<PreparedNuslerp>(plan, params, has_base, models);
  }
};

}  // namespace

const Method& nuslerp_method() {
  static const NuslerpMethod m;
  return m;
}

}  // namespace cocktail
