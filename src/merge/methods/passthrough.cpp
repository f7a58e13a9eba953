// Passthrough (mergekit's passthrough.py): each tensor copied from its one
// model, times `scale` where one is set (per model, with filters: the
// frankenmerge recipes that damp o_proj and down_proj of repeated layers).
// With slices each slice names its own model, which makes frankenmerges:
// layers of several models stacked (plan/sliced_tensors.hpp). The copy is a
// weighted sum of one source, so it runs on the CPU or the GPU kernels.
#include <cmath>

#include "core/error.hpp"
#include "merge/methods/registry.hpp"
#include "plan/layer_names.hpp"

namespace cocktail {
namespace {

class PreparedPassthrough : public NoStatistics {
 public:
  PreparedPassthrough(const Job& job, const MergePlan& plan, const ParamResolver& params)
      : job_(job), plan_(plan), scale_(plan.tensors.size(), 1.0) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      const ParamValue v = params.get("scale", pt, pt.sources[0].model);
      if (!std::isfinite(static_cast<float>(v.number)))
        throw Error(v.where + ": scale must be a finite number, got " + number_text(v.number));
      scale_[i] = v.number;
    }
  }

  bool weighted_by_tensor() const override { return true; }
  std::vector<float> tensor_weights(size_t tensor) const override {
    return {static_cast<float>(scale_[tensor])};  // 1: the tensor as it is (x * 1 is exact)
  }

  std::string describe(size_t tensor) const override {
    const PlannedTensor& pt = plan_.tensors[tensor];
    std::string text = "from " + job_.models[pt.sources[0].model].short_name();
    if (const auto layer = layer_index(pt.sources[0].tensor->info.name); layer && !job_.slices.empty())
      text += "'s layer " + std::to_string(*layer);
    if (scale_[tensor] != 1) text += ", scale " + number_text(scale_[tensor]);
    return text;
  }
  std::string summary() const override {
    if (job_.slices.empty()) return "a copy of " + job_.models[0].short_name();
    long layers = 0;
    for (const Slice& s : job_.slices) layers += s.sources[0].end - s.sources[0].begin;
    return std::to_string(job_.slices.size()) + " slices, " + std::to_string(layers) + " layers";
  }

 private:
  const Job& job_;
  const MergePlan& plan_;
  std::vector<double> scale_;  // per tensor
};

class PassthroughMethod : public Method {
 public:
  std::string_view name() const override { return "passthrough"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"scale", ParamType::Number, ParamScope::PerModel, "1", {}, "multiplies the copied tensor"}};
  }

  bool models_may_differ_per_slice() const override { return true; }

  std::vector<size_t> sources(const Job& job) const override {
    if (job.fewshot) throw Error(config_line(job) + ": key 'examples': passthrough copies; it has no weights to set");
    for (const Slice& s : job.slices)
      if (s.sources.size() != 1)
        throw Error(s.where + ": passthrough copies each layer from one model; this slice has " +
                    std::to_string(s.sources.size()) + " sources");
    if (job.slices.empty() && job.models.size() != 1)
      throw Error(config_line(job) + ": key 'models': passthrough copies one model (or use slices); got " +
                  std::to_string(job.models.size()));
    return every_model(job);
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedPassthrough>(job, plan, params);
  }
};

}  // namespace

const Method& passthrough_method() {
  static const PassthroughMethod m;
  return m;
}

}  // namespace cocktail
