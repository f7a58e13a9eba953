// Linear (mergekit's linear.py, a model soup) with weights per tensor:
// gradients over the layers, filters, and slices. A linear job whose weights
// are plain numbers per model runs as the core recipe (merge/recipe.cpp);
// this is the same sum, w_i / sum_j w_j rounded once to float32 per tensor
// and the same weighted-sum kernels, so a job written either way gives the
// same bytes (test_methods_mpi, LinearMethod).
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

class PreparedLinear : public NoStatistics {
 public:
  PreparedLinear(const Job& job, const MergePlan& plan, const ParamResolver& params)
      : job_(job), plan_(plan), weights_(plan.tensors.size()), normalize_(plan.tensors.size(), false) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      normalize_[i] = params.get("normalize", pt).number != 0;
      double sum = 0;
      std::vector<double> w;
      for (const auto& source : pt.sources) {
        const ParamValue v = params.get("weight", pt, source.model);
        if (!std::isfinite(v.number)) throw Error(v.where + ": weight must be a finite number, got " + number_text(v.number));
        w.push_back(v.number);
        sum += v.number;
      }
      if (normalize_[i] && sum == 0)
        throw Error(config_line(job) + ": key 'parameters.normalize': the weights of tensor '" + pt.name +
                    "' sum to 0, so they cannot be normalised");
      for (double x : w) weights_[i].push_back(static_cast<float>(normalize_[i] ? x / sum : x));
    }
  }

  bool weighted_by_tensor() const override { return true; }
  std::vector<float> tensor_weights(size_t tensor) const override { return weights_[tensor]; }

  std::string describe(size_t tensor) const override {
    const PlannedTensor& pt = plan_.tensors[tensor];
    std::string text;
    for (size_t k = 0; k < pt.sources.size(); ++k)
      text += (k ? ", " : "") + job_.models[pt.sources[k].model].short_name() + " " +
              number_text(weights_[tensor][k]);
    return text;
  }
  std::string summary() const override {
    size_t normalized = 0, merged = 0;
    for (size_t i = 0; i < plan_.tensors.size(); ++i)
      if (plan_.tensors[i].action == TensorAction::Merge) merged++, normalized += normalize_[i];
    return "weights per tensor" + std::string(normalized == merged ? ", normalized" : normalized ? "" : ", not normalized");
  }

 private:
  const Job& job_;
  const MergePlan& plan_;
  std::vector<std::vector<float>> weights_;  // per tensor, aligned with its sources
  std::vector<bool> normalize_;              // per tensor
};

class LinearMethod : public Method {
 public:
  std::string_view name() const override { return "linear"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"weight", ParamType::Number, ParamScope::PerModel, std::nullopt, {}, "this model's weight in the sum"},
            {"normalize", ParamType::Boolean, ParamScope::Job, "true", {}, "divide by the sum of the weights"}};
  }

  // Only reached with slices (config/job.cpp), where examples are refused.
  std::vector<size_t> sources(const Job& job) const override { return every_model(job); }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedLinear>(job, plan, params);
  }
};

}  // namespace

const Method& linear_method() {
  static const LinearMethod m;
  return m;
}

}  // namespace cocktail
