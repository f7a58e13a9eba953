// Karcher mean (mergekit's karcher.py): the Riemannian mean of the models'
// directions on the unit sphere, every model (the base included, if given)
// weighted 1/N, scaled by their mean norm. Per tensor, with u_i = x_i / |x_i|
// over the models with |x_i| > tol:
//   m = sum_i a_i u_i normalised (u_0 if that sum is below tol)
//   up to max_iter times:  for each i, theta_i = acos(clamp(<m, u_i>, -1, 1));
//     g = sum_{theta_i >= tol} a_i theta_i / sin(theta_i) (u_i - <m, u_i> m);
//     stop if |g| < tol;  m = cos|g| m + sin|g| g / |g|, normalised
//   out = (sum_i |x_i| / N) m
// m never leaves the span of the u_i, so the iterations run on its N
// coefficients with inner products from the Gram matrix of the x_i (summed
// exactly in one statistics pass, merge/methods/gram): no pass per
// iteration, and the merge is a weighted sum with per-tensor weights, on the
// CPU or the GPU kernels. mergekit iterates on float32 vectors, so its
// values carry float32 rounding of every step; ours round once, in the
// weighted sum (docs/methods.md).
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

// The weights of the x_i in the Karcher mean, from their Gram matrix.
std::vector<float> karcher_weights(const Gram& gram, const std::vector<double>& sums, int max_iter, double tol) {
  const int n = gram.n;
  auto g = [&](int i, int k) { return sums[gram.index(i, k)]; };
  std::vector<double> norm(n);
  std::vector<int> valid;
  for (int i = 0; i < n; ++i) {
    norm[i] = static_cast<float>(std::sqrt(g(i, i)));  // torch's float32 norm
    if (norm[i] > tol) valid.push_back(i);
  }
  std::vector<float> weights(n, 0.0f);
  if (valid.empty()) return weights;
  const int v = static_cast<int>(valid.size());
  // <u_a, u_b> over the valid models, and <p, q> for coefficient vectors.
  std::vector<double> unit(v * v);
  for (int a = 0; a < v; ++a)
    for (int b = 0; b < v; ++b) unit[a * v + b] = g(valid[a], valid[b]) / (norm[valid[a]] * norm[valid[b]]);
  auto inner = [&](const std::vector<double>& p, const std::vector<double>& q) {
    double s = 0;
    for (int a = 0; a < v; ++a)
      for (int b = 0; b < v; ++b) s += p[a] * unit[a * v + b] * q[b];
    return s;
  };
  const double alpha = 1.0 / v;  // the equal weights, renormalised over the valid models
  std::vector<double> mean(v, alpha);
  const double mean_norm = std::sqrt(std::fmax(inner(mean, mean), 0.0));
  if (mean_norm < tol) {
    mean.assign(v, 0.0);
    mean[0] = 1;
  } else {
    for (double& c : mean) c /= mean_norm;
  }
  for (int iter = 0; iter < max_iter; ++iter) {
    std::vector<double> tangent(v, 0.0);
    for (int a = 0; a < v; ++a) {
      double dot = 0;
      for (int b = 0; b < v; ++b) dot += mean[b] * unit[b * v + a];
      dot = std::fmin(1.0, std::fmax(-1.0, dot));
      const double theta = std::acos(dot);
      if (theta < tol) continue;
      const double f = alpha * theta / std::sin(theta);
      for (int b = 0; b < v; ++b) tangent[b] -= f * dot * mean[b];
      tangent[a] += f;
    }
    const double tangent_norm = std::sqrt(std::fmax(inner(tangent, tangent), 0.0));
    if (tangent_norm < tol) break;
    for (int b = 0; b < v; ++b)
      mean[b] = std::cos(tangent_norm) * mean[b] + std::sin(tangent_norm) * tangent[b] / tangent_norm;
    const double unit_norm = std::sqrt(std::fmax(inner(mean, mean), 0.0));
    if (unit_norm > tol)
      for (double& c : mean) c /= unit_norm;
  }
  double scale = 0;  // mergekit's alphas here are 1/N over every model, zero norms included
  for (int i = 0; i < n; ++i) scale += norm[i] / n;
  for (int a = 0; a < v; ++a) weights[valid[a]] = static_cast<float>(scale * mean[a] / norm[valid[a]]);
  return weights;
}

class PreparedKarcher : public GramPass {
 public:
  PreparedKarcher(const MergePlan& plan, int models, const ParamResolver& params)
      : GramPass(plan, Gram{models}, false), max_iter_(plan.tensors.size(), 0), tol_(plan.tensors.size(), 0),
        weights_(plan.tensors.size()) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      if (plan.tensors[i].action != TensorAction::Merge) continue;
      const ParamValue max_iter = params.get("max_iter", plan.tensors[i]), tol = params.get("tol", plan.tensors[i]);
      if (!(max_iter.number >= 0 && max_iter.number <= 1e6) || max_iter.number != std::floor(max_iter.number))
        throw Error(max_iter.where + ": max_iter must be a whole number from 0 to 1000000, got " +
                    number_text(max_iter.number));
      if (!(tol.number >= 0) || !std::isfinite(tol.number))
        throw Error(tol.where + ": tol must be a finite number at least 0, got " + number_text(tol.number));
      max_iter_[i] = static_cast<int>(max_iter.number);
      tol_[i] = tol.number;
    }
  }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override {
    weights_[tensor] = karcher_weights(gram_, sums, max_iter_[tensor], tol_[tensor]);
  }

  bool weighted_by_tensor() const override { return true; }
  std::vector<float> tensor_weights(size_t tensor) const override {
    if (gram_.n == 1) return {1.0f};  // one model is itself, as mergekit returns it
    return weights_[tensor];
  }

  std::string describe(size_t tensor) const override {
    if (plan_.tensors[tensor].action != TensorAction::Merge) return "copied from the reference model";
    return "at most " + std::to_string(max_iter_[tensor]) + " iterations to tol " + number_text(tol_[tensor]);
  }
  std::string summary() const override {
    return std::to_string(gram_.n) + " models, their Karcher mean per tensor";
  }

 private:
  std::vector<int> max_iter_;  // per tensor
  std::vector<double> tol_;
  std::vector<std::vector<float>> weights_;  // per tensor, after the statistics pass
};

class KarcherMethod : public Method {
 public:
  std::string_view name() const override { return "karcher"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"max_iter", ParamType::Number, ParamScope::Job, "10", {}, "the most Riemannian updates per tensor"},
            {"tol", ParamType::Number, ParamScope::Job, "1e-5", {}, "stop when the update is smaller"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    if (job.fewshot) throw Error(config_line(job) + ": key 'examples': karcher weights every model equally");
    return every_model(job);
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedKarcher>(plan, static_cast<int>(job.models.size()), params);
  }
};

}  // namespace

const Method& karcher_method() {
  static const KarcherMethod m;
  return m;
}

}  // namespace cocktail
