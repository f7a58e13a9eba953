#pragma once
// Method parameters: each method declares its own (name, type, scope,
// default, whether it may vary over layers); the values come from the
// job's settings (config/setting.hpp), resolved per tensor the way
// mergekit 0.1.5 resolves them (config.py evaluate_setting,
// parameter_resolver.py):
//  - per-model parameters look in models[i].parameters (with slices: the
//    tensor's slice source of that model), then the slice's parameters, then
//    the top-level ones; job-level ones skip the first place;
//  - within a setting, the first condition whose filter is a substring of
//    the tensor name wins (no filter, or "*", matches all); none matching
//    falls through to the next place, then to the default;
//  - a gradient [v0, ..., vn] is interpolated piecewise linearly at the
//    tensor's layer position t (PlannedTensor::layer_position: in its slice
//    with slices).
#include <optional>
#include <string>
#include <vector>

#include "config/job.hpp"
#include "plan/tensor_plan.hpp"

namespace cocktail {

enum class ParamScope {
  Job,       // the top-level parameters only
  PerModel,  // each non-base model: models[i].parameters, then the top level
};

enum class ParamType { Number, Boolean, Choice };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Number;
  ParamScope scope = ParamScope::Job;
  std::optional<std::string> default_value;  // none: required
  std::vector<std::string> choices;          // ParamType::Choice
  std::string doc;                           // one line, for errors and docs
};

// One resolved value: numbers and booleans (0 or 1) as double, choices as text.
struct ParamValue {
  double number = 0;
  std::string text;
  std::string where;  // the setting it came from ("FILE:LINE: key 'K'"), or "default"
};

// A parameter value as summaries and messages print it (6 significant digits).
std::string number_text(double v);

class ParamResolver {
 public:
  // Checks every setting of the job against `specs` (unknown names, values
  // of the wrong type, job-level parameters set per model, gradients of
  // parameters that cannot vary); throws cocktail::Error naming the key.
  ParamResolver(const Job& job, std::vector<ParamSpec> specs);

  // The value for `tensor`; `model` is an index into job.models for
  // per-model parameters. Throws when a required one is missing.
  ParamValue get(const std::string& name, const PlannedTensor& tensor, std::optional<size_t> model = std::nullopt) const;

 private:
  const ParamSpec& spec(const std::string& name) const;
  ParamValue find(const ParamSpec& s, const std::vector<const Settings*>& places, const std::string& tensor, double t,
                  std::optional<size_t> model) const;
  const Job& job_;
  std::vector<ParamSpec> specs_;
};

}  // namespace cocktail
