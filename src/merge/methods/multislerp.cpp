// Multi-SLERP (mergekit's multislerp.py): barycentric interpolation of N
// models on the hypersphere, of their task vectors d_i = x_i - base when a
// base is given. Per tensor, with weights w_i (normalised to sum 1 by
// default) and u_i = d_i / (|d_i| + eps):
//   m   = sum_i w_i u_i,  m^ = m / |m|            (the tangent point)
//   g   = sum_i w_i (u_i - <u_i, m^> m^)          (the tangent result)
//   out = base + (m^ cos|g| + g sin|g| / |g|) * sum_i w_i |d_i|
// |g| is taken as eps (see below); the rest per element in float32 as torch
// does. When |m| < eps (antipodal inputs) two models fall back to
// w_0 d_0 + w_1 d_1 and more are refused, as there.
//
// Every scalar is a function of the Gram matrix of the d_i, so one
// statistics pass sums it exactly (merge/methods/gram). |g| is not: g is
// zero in exact arithmetic (sum_i w_i <u_i, m^> = |m|), and mergekit's |g|
// is the norm of its float32 rounding noise plus eps, about 1e-7. For any
// |g| below 2.4e-4 cos|g| and sin|g| / |g| are 1 in float32, so taking
// |g| = eps changes no value unless the unit vectors nearly cancel.
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

struct MultislerpTensor {
  bool merged = false;
  float eps = 1e-8f;
  std::vector<float> w;  // the weights, normalised as the job asks
  // After the statistics pass.
  std::vector<float> denominator;  // |d_i| + eps
  std::vector<float> dot;          // <u_i, m^>
  float mean_norm = 1, cos_g = 1, sinc_g = 1, scale = 0;
  bool fallback = false;  // |m| < eps with two models
};

class PreparedMultislerp : public GramPass {
 public:
  PreparedMultislerp(const MergePlan& plan, const ParamResolver& params, bool has_base,
                     const std::vector<size_t>& models)
      : GramPass(plan, Gram{static_cast<int>(models.size())}, has_base), has_base_(has_base),
        tensors_(plan.tensors.size()) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      MultislerpTensor& m = tensors_[i];
      m.merged = true;
      float total = 0;
      for (size_t model : models) {
        m.w.push_back(static_cast<float>(params.get("weight", pt, model).number));
        total = total + m.w.back();
      }
      if (params.get("normalize_weights", pt).number != 0)
        for (float& w : m.w) w = w / total;
      const ParamValue eps = params.get("eps", pt);
      if (!(eps.number >= 0) || !std::isfinite(static_cast<float>(eps.number)))
        throw Error(eps.where + ": eps must be a finite number at least 0, got " + number_text(eps.number));
      m.eps = static_cast<float>(eps.number);
    }
  }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override {
    const int n = gram_.n;
    MultislerpTensor& m = tensors_[tensor];
    auto g = [&](int i, int k) { return sums[gram_.index(i, k)]; };
    std::vector<float> norm(n);
    m.denominator.resize(n);
    for (int i = 0; i < n; ++i) {
      norm[i] = static_cast<float>(std::sqrt(g(i, i)));
      m.denominator[i] = norm[i] + m.eps;
    }
    // <u_i, m> and |m|^2 from the Gram matrix of the unit vectors.
    std::vector<double> u_dot_m(n, 0.0);
    double mm = 0;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < n; ++k) u_dot_m[i] += double(m.w[k]) * g(i, k) / (double(m.denominator[i]) * m.denominator[k]);
      mm += double(m.w[i]) * u_dot_m[i];
    }
    m.mean_norm = static_cast<float>(std::sqrt(std::fmax(mm, 0.0)));
    if (m.mean_norm < m.eps) {
      if (n != 2)
        throw Error("tensor '" + plan_.tensors[tensor].name +
                    "': multislerp: the weighted sum of the models' unit vectors is zero (antipodal models whose "
                    "weights balance out); use other weights");
      m.fallback = true;
      return;
    }
    m.dot.resize(n);
    for (int i = 0; i < n; ++i) m.dot[i] = static_cast<float>(u_dot_m[i] / m.mean_norm);
    const float g_norm = 0.0f + m.eps;
    m.cos_g = std::cos(g_norm);
    m.sinc_g = std::sin(g_norm) / g_norm;
    m.scale = 0;
    for (int i = 0; i < n; ++i) m.scale = m.scale + norm[i] * m.w[i];
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const MultislerpTensor& m = tensors_[unit.tensor];
    const int n = models();
    apply_elementwise(pt, unit, in, out, pool, nonfinite, [&] {
      return [&, u = std::vector<float>(n)](const float* x, size_t) mutable {
        const float base = has_base_ ? x[0] : 0.0f;
        const float* d = x + (has_base_ ? 1 : 0);
        float v;
        if (n == 1) {
          v = d[0];  // the model itself
        } else if (m.fallback) {
          v = (d[0] - base) * m.w[0] + (d[1] - base) * m.w[1];
          if (has_base_) v = v + base;
        } else {
          float mean = 0;
          for (int i = 0; i < n; ++i) {
            u[i] = (d[i] - base) / m.denominator[i];
            mean = mean + u[i] * m.w[i];
          }
          mean = mean / m.mean_norm;
          float tangent = 0;
          for (int i = 0; i < n; ++i) tangent = tangent + (u[i] - m.dot[i] * mean) * m.w[i];
          v = (mean * m.cos_g + tangent * m.sinc_g) * m.scale;
          if (has_base_) v = v + base;
        }
        return v;
      };
    });
  }

  std::string describe(size_t tensor) const override {
    const MultislerpTensor& m = tensors_[tensor];
    if (!m.merged) return "copied from the reference model";
    std::string text = "weights";
    for (float w : m.w) text += " " + number_text(w);
    return text;
  }
  std::string summary() const override {
    return std::to_string(models()) + " models on the hypersphere" + (has_base_ ? " (their task vectors)" : "");
  }

 private:
  int models() const { return gram_.n; }

  bool has_base_;
  std::vector<MultislerpTensor> tensors_;
};

class MultislerpMethod : public Method {
 public:
  std::string_view name() const override { return "multislerp"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"weight", ParamType::Number, ParamScope::PerModel, std::nullopt, {}, "the model's weight"},
            {"normalize_weights", ParamType::Boolean, ParamScope::Job, "true", {}, "divide the weights by their sum"},
            {"eps", ParamType::Number, ParamScope::Job, "1e-8", {}, "added to the norms"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    const std::string file_line = config_line(job);
    const size_t base = !job.models.empty() && job.models[0].role == ModelRole::Base ? 1 : 0;
    if (job.models.size() == base)
      throw Error(file_line + ": key 'models': multislerp needs at least one model besides the base_model");
    if (job.fewshot)
      throw Error(file_line + ": key 'examples': multislerp takes its weights from the 'weight' parameter");
    return every_model(job);
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    const bool has_base = job.models[0].role == ModelRole::Base;
    std::vector<size_t> models;
    for (size_t i = has_base ? 1 : 0; i < job.models.size(); ++i) models.push_back(i);
    return std::make_unique<PreparedMultislerp>(plan, params, has_base, models);
  }
};

}  // namespace

const Method& multislerp_method() {
  static const MultislerpMethod m;
  return m;
}

}  // namespace cocktail
