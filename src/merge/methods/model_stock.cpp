// Model Stock (Jang et al. 2024, arXiv 2403.19522; mergekit's
// model_stock.py): per tensor, with the task vectors d_i = w_i - w_0 of N >= 2
// fine-tunes of the base w_0,
//   cos = mean over pairs i < j of clamp(<d_i, d_j> / max(|d_i| |d_j|, 1e-6), -1, 1)
//   t   = N cos / (1 + (N - 1) cos)     (0 where |1 + (N - 1) cos| < 1e-6)
//   out = t * (sum_i w_i) / N + (1 - t) * w_0
// in float32 as torch does. One statistics pass sums the Gram matrix of the
// task vectors (their squared norms and pairwise dot products) exactly over
// the tensor's chunks and ranks (kernels/exact_dot.hpp). With filter_wise, t
// per row (the last dimension; a 1-D tensor is one row): units hold whole
// rows, and each row's sums are taken in its unit, in double.
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

// t from the Gram sums of the task vectors (a tensor's, or with filter_wise
// a row's) in mergekit's float32 steps: norms as float32, the product of two
// norms clamped at 1e-6, the cosines' mean summed in pair order.
float stock_t(const Gram& gram, const std::vector<double>& sums) {
  const int n = gram.n;
  std::vector<float> norm(n);
  for (int i = 0; i < n; ++i) norm[i] = static_cast<float>(std::sqrt(sums[i]));
  float sum = 0;
  for (int i = 0; i < n; ++i)
    for (int k = i + 1; k < n; ++k) {
        const float product = std::fmax(norm[i] * norm[k], 1e-6f);
        float c = static_cast<float>(sums[gram.pair(i, k)] / double(product));
        c = std::isnan(c) ? c : std::fmin(1.0f, std::fmax(-1.0f, c));
        sum = sum + c;
      }
  const float cos = sum / static_cast<float>(n * (n - 1) / 2);
  const float denominator = 1.0f + static_cast<float>(n - 1) * cos;
  return std::fabs(denominator) < 1e-6f ? 0.0f : (static_cast<float>(n) * cos) / denominator;
}

class PreparedModelStock : public GramPass {
 public:
  PreparedModelStock(const MergePlan& plan, size_t models, std::vector<bool> per_row)
      : GramPass(plan, Gram{static_cast<int>(models)}, true), t_(plan.tensors.size(), 0.0f),
        per_row_(std::move(per_row)) {}

  // filter_wise tensors take their t per row, inside the apply.
  bool reads(int pass, size_t tensor) const override { return !per_row_[tensor] && GramPass::reads(pass, tensor); }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override { t_[tensor] = stock_t(gram_, sums); }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const int n = gram_.n;
    const float count = static_cast<float>(n);
    const bool per_row = per_row_[unit.tensor];
    const uint64_t cols = per_row ? pt.row_length() : 1;
    apply_elementwise(
        pt, unit, in, out, pool, nonfinite,
        [&] {
          return [&, t = t_[unit.tensor]](const float* x, size_t j) mutable {
            if (per_row && j % cols == 0) t = stock_t(gram_, row_gram(gram_, pt, in, true, j, cols));
            float total = 0.0f;  // Python's sum() starts from 0, so -0 + 0 = +0 as there
            for (int i = 0; i < n; ++i) total = total + x[i + 1];
            return t * (total / count) + (1.0f - t) * x[0];
          };
        },
        cols);
  }

  std::string describe(size_t tensor) const override {
    if (plan_.tensors[tensor].action != TensorAction::Merge) return "copied from the reference model";
    return per_row_[tensor] ? "t per row from the task vectors' mean cosine" : "t from the task vectors' mean cosine";
  }
  std::string summary() const override { return std::to_string(gram_.n) + " fine-tunes; t per tensor from their angles"; }

 private:
  std::vector<float> t_;  // per tensor, after the statistics pass
  std::vector<bool> per_row_;  // filter_wise, per tensor
};

class ModelStockMethod : public Method {
 public:
  std::string_view name() const override { return "model_stock"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"filter_wise", ParamType::Boolean, ParamScope::Job, "false", {}, "one t per row (per filter of the output)"}};
  }

  uint64_t unit_alignment(const Job& job, const PlannedTensor& t) const override {
    if (t.action != TensorAction::Merge) return 1;
    return ParamResolver(job, parameters()).get("filter_wise", t).number != 0 ? t.row_length() : 1;
  }

  std::vector<size_t> sources(const Job& job) const override {
    const std::string file_line = config_line(job);
    if (job.models.empty() || job.models[0].role != ModelRole::Base)
      throw Error(file_line + ": key 'base_model': missing: model_stock averages fine-tunes of a base model towards it");
    if (job.models.size() < 3)
      throw Error(file_line + ": key 'models': model_stock needs the base and at least two fine-tunes (three models); got " +
                  std::to_string(job.models.size()));
    if (job.fewshot) throw Error(file_line + ": key 'examples': model_stock has no model weights for the examples to set");
    return every_model(job);
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    std::vector<bool> per_row;
    for (const auto& t : plan.tensors) per_row.push_back(params.get("filter_wise", t).number != 0);
    return std::make_unique<PreparedModelStock>(plan, job.models.size() - 1, std::move(per_row));
  }
};

}  // namespace

const Method& model_stock_method() {
  static const ModelStockMethod m;
  return m;
}

}  // namespace cocktail
