#pragma once
// What slerp and nearswap share: a base and exactly one other model, and one
// number t per tensor (mergekit's gradients and filters), shown the same way.
#include <string>
#include <string_view>
#include <vector>

#include "config/job.hpp"
#include "merge/methods/parameters.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

// {base, other} as indices into job.models; throws naming the key when the
// job has no base, other than two models, or examples (no weights to set).
// `base_role` completes "base_model: missing: METHOD ...".
std::vector<size_t> base_and_one_other(const Job& job, std::string_view method, std::string_view base_role);

// t of every merged tensor of `plan`, NaN for the others; throws naming the
// setting when a value is not a finite float32.
std::vector<double> resolve_t(const MergePlan& plan, const ParamResolver& params);

// One tensor's t ("t 0.5"), and the job's ("t 0 to 1 (3 distinct values ...)").
std::string describe_t(double t);
std::string summarize_t(const std::vector<double>& t);

}  // namespace cocktail
