#include "merge/methods/two_models.hpp"

#include <cmath>
#include <set>

#include "core/error.hpp"
#include "merge/methods/method.hpp"

namespace cocktail {

std::vector<size_t> base_and_one_other(const Job& job, std::string_view method, std::string_view base_role) {
  const std::string file_line = config_line(job);
  const std::string name(method);
  if (job.models.empty() || job.models[0].role != ModelRole::Base)
    throw Error(file_line + ": key 'base_model': missing: " + name + " " + std::string(base_role));
  if (job.models.size() != 2)
    throw Error(file_line + ": key 'models': " + name + " merges exactly two models, the base and one other; got " +
                std::to_string(job.models.size()) + " in all");
  if (job.fewshot)
    throw Error(file_line + ": key 'examples': " + name + " has no model weights for the examples to set; its t is a parameter");
  return {0, 1};
}

std::vector<double> resolve_t(const MergePlan& plan, const ParamResolver& params) {
  std::vector<double> t(plan.tensors.size(), NAN);
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const PlannedTensor& pt = plan.tensors[i];
    if (pt.action != TensorAction::Merge) continue;
    const ParamValue v = params.get("t", pt);
    if (!std::isfinite(static_cast<float>(v.number)))
      throw Error(v.where + ": t must be a finite number, got " + number_text(v.number));
    t[i] = v.number;
  }
  return t;
}

std::string describe_t(double t) { return std::isnan(t) ? "copied from the reference model" : "t " + number_text(t); }

std::string summarize_t(const std::vector<double>& t) {
  std::set<double> distinct;
  for (double v : t)
    if (!std::isnan(v)) distinct.insert(v);
  if (distinct.empty()) return "";
  std::string text = "t " + number_text(*distinct.begin());
  if (distinct.size() > 1)
    text += " to " + number_text(*distinct.rbegin()) + " (" + std::to_string(distinct.size()) +
            " distinct values over the tensors, see --dry-run)";
  return text;
}

}  // namespace cocktail
