#pragma once
// A merge method of this folder: its name, its parameters, its statistics
// and its per-element math, all declared by the method. The config parser
// keeps a method's settings as written, the engine runs whatever passes the
// method asks for, and the CLI prints what it describes; adding a method is
// a file here and a line in registry.cpp.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/job.hpp"
#include "core/error.hpp"
#include "merge/methods/parameters.hpp"
#include "merge/tensor_method.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

// A method with its parameters resolved for every tensor of a plan.
class PreparedMethod : public TensorMethod {
 public:
  // The resolved parameters of `tensor`, one line ("density b=0.5 c=0.7, ...").
  virtual std::string describe(size_t tensor) const = 0;
  // The parameters over the whole job, for the summary and merge_report.json.
  virtual std::string summary() const = 0;
};

// A prepared method with no statistics pass (linear, passthrough, nearswap):
// its apply needs only the unit and the resolved parameters.
class NoStatistics : public PreparedMethod {
 public:
  int passes() const override { return 0; }
  bool reads(int, size_t) const override { return false; }
  std::span<uint64_t> state(int, size_t) override { return {}; }
  void accumulate(int, const WorkUnit&, UnitInputs, ThreadPool&) override {}
  void finish(int, size_t) override {}
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<ParamSpec> parameters() const = 0;
  // The models every merged tensor reads, in order (the base first where the
  // method has one), as indices into job.models. Throws naming the key when
  // the job cannot run this method (no base model, ...).
  virtual std::vector<size_t> sources(const Job& job) const = 0;
  // With slices: whether each slice may name its own models (passthrough),
  // rather than every slice all of sources().
  virtual bool models_may_differ_per_slice() const { return false; }
  // Units of `t` hold a multiple of this many elements (1: any split).
  virtual uint64_t unit_alignment(const Job&, const PlannedTensor&) const { return 1; }
  // Resolves and checks every parameter for every merged tensor of `plan`
  // (built with sources() and unit_alignment()); throws naming the key.
  virtual std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const = 0;
};

// "FILE:LINE" of the job's merge_method, to start a message about its keys.
inline std::string config_line(const Job& job) { return job.method_where.substr(0, job.method_where.find(": key")); }

// 0, 1, ..., every model of the job, for methods that read them all.
inline std::vector<size_t> every_model(const Job& job) {
  std::vector<size_t> all(job.models.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

// Every model, for a method that merges the task vectors (model - base) of
// any number of models with no weights to set (sce, ram): throws naming the
// key when the job has no base_model, no other model, or examples.
inline std::vector<size_t> base_and_task_vectors(const Job& job, std::string_view method) {
  const std::string name(method);
  if (job.models.empty() || job.models[0].role != ModelRole::Base)
    throw Error(config_line(job) + ": key 'base_model': missing: " + name + " merges the models' task vectors (model - base)");
  if (job.models.size() < 2)
    throw Error(config_line(job) + ": key 'models': " + name + " needs at least one model besides the base_model");
  if (job.fewshot) throw Error(config_line(job) + ": key 'examples': " + name + " has no model weights for the examples to set");
  return every_model(job);
}

// The method called `name`, or null.
const Method* find_method(std::string_view name);
// Every method name of this folder, for messages.
std::string method_list();

}  // namespace cocktail
