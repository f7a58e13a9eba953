// Reinforced Agent Merging (arXiv 2601.13572; mergekit's ram.py): per
// element, with the task vectors d_i = x_i - base and c the number of models
// whose |d_i| > epsilon there,
//   ram:         out = base + sum_i d_i [|d_i| > eps] (u + o / max(c, 1))
//   ramplus_tl:  out = base + sum_i d_i [|d_i| > eps] (u lambda_i + o / max(c, 1))
// where u = [c == 1] (the entry is this model's alone) and o = [c > 1]
// (shared), and for ramplus_tl, per model and tensor,
//   lambda_i = 1 + r clamp(shared_i / max(unique_i, eps), 0, alpha),
// shared_i and unique_i counting the tensor's elements where model i
// contributes a shared or a unique entry: integers, summed in one
// statistics pass across chunks and ranks. In float32 in torch's order.
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "element_math.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/registry.hpp"

namespace cocktail {
namespace {

struct RamParams {  // per tensor
  float epsilon = 1e-5f;
  float r = 0.1f, alpha = 0.2f;  // ramplus_tl
};

class PreparedRam : public PreparedMethod {
 public:
  PreparedRam(const MergePlan& plan, const ParamResolver& params, bool plus, size_t models)
      : plan_(plan), plus_(plus), p_(plan.tensors.size()), models_(models),
        lambda_(plan.tensors.size(), std::vector<float>(models, 1.0f)) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      if (plan.tensors[i].action != TensorAction::Merge) continue;
      auto finite = [&](const char* key) {
        const ParamValue v = params.get(key, plan.tensors[i]);
        if (!std::isfinite(static_cast<float>(v.number)))
          throw Error(v.where + ": " + key + " must be a finite number, got " + number_text(v.number));
        return static_cast<float>(v.number);
      };
      p_[i].epsilon = finite("epsilon");
      if (plus_) {
        p_[i].r = finite("r");
        p_[i].alpha = finite("alpha");
      }
    }
  }

  int passes() const override { return plus_ ? 1 : 0; }
  bool reads(int, size_t tensor) const override { return plan_.tensors[tensor].action == TensorAction::Merge; }

  std::span<uint64_t> state(int, size_t tensor) override {
    std::vector<uint64_t>& s = states_[tensor];
    if (s.empty()) s.assign(2 * models_, 0);  // shared_i, unique_i
    return s;
  }

  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override {
    uint64_t* s = state(pass, unit.tensor).data();
    std::mutex mu;
    pool.parallel_for(unit.count, [&](size_t begin, size_t end) {
      std::vector<uint64_t> local(2 * models_, 0);
      std::vector<float> d(models_);
      for (size_t j = begin; j < end; ++j) {
        const int c = deltas(unit.tensor, in, j, d.data());
        for (size_t i = 0; i < models_; ++i) {
          if (!(std::fabs(d[i]) > p_[unit.tensor].epsilon)) continue;
          local[2 * i] += c > 1;
          local[2 * i + 1] += c == 1;
        }
      }
      std::lock_guard lock(mu);
      for (size_t k = 0; k < local.size(); ++k) s[k] += local[k];
    });
  }

  void finish(int, size_t tensor) override {
    const auto it = states_.find(tensor);
    if (it == states_.end()) return;
    for (size_t i = 0; i < models_; ++i) {
      // torch: int64 counts; clamp(min=eps) makes the unique count a float32.
      const RamParams& p = p_[tensor];
      const float unique = std::fmax(static_cast<float>(it->second[2 * i + 1]), p.epsilon);
      const float rho = static_cast<float>(it->second[2 * i]) / unique;
      lambda_[tensor][i] = 1.0f + p.r * std::fmin(std::fmax(rho, 0.0f), p.alpha);
    }
    states_.erase(it);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const std::vector<float>& lambda = lambda_[unit.tensor];
    const RamParams& p = p_[unit.tensor];
    apply_elementwise(pt, unit, in, out, pool, nonfinite, [&] {
      return [&, d = std::vector<float>(models_)](const float* x, size_t) mutable {
        int c = 0;
        for (size_t i = 0; i < models_; ++i) {
          d[i] = x[i + 1] - x[0];
          c += std::fabs(d[i]) > p.epsilon;
        }
        const float unique = c == 1 ? 1.0f : 0.0f, shared = c > 1 ? 1.0f : 0.0f;
        const float count = static_cast<float>(c > 1 ? c : 1);
        float merged = 0;
        for (size_t i = 0; i < models_; ++i) {
          const float z = d[i] * (std::fabs(d[i]) > p.epsilon ? 1.0f : 0.0f);
          const float own = plus_ ? (z * unique) * lambda[i] : z * unique;
          merged = merged + (own + (z * shared) / count);
        }
        return x[0] + merged;
      };
    });
  }

  std::string describe(size_t tensor) const override {
    if (plan_.tensors[tensor].action != TensorAction::Merge) return "copied from the reference model";
    std::string text = "epsilon " + number_text(p_[tensor].epsilon);
    if (!plus_) return text;
    text += ", lambda";
    for (float l : lambda_[tensor]) text += " " + number_text(l);
    return text;
  }
  std::string summary() const override {
    return std::to_string(models_) + " task vectors; unique entries kept" + (plus_ ? " and boosted" : "") +
           ", shared ones averaged";
  }

 private:
  // d_i at element j, and how many exceed epsilon in magnitude.
  int deltas(size_t tensor, UnitInputs in, size_t j, float* d) const {
    const PlannedTensor& pt = plan_.tensors[tensor];
    const float base = load_as_f32(in[0], pt.sources[0].tensor->info.dtype, j);
    int c = 0;
    for (size_t i = 0; i < models_; ++i) {
      d[i] = load_as_f32(in[i + 1], pt.sources[i + 1].tensor->info.dtype, j) - base;
      c += std::fabs(d[i]) > p_[tensor].epsilon;
    }
    return c;
  }

  const MergePlan& plan_;
  bool plus_;
  std::vector<RamParams> p_;
  size_t models_;
  std::vector<std::vector<float>> lambda_;  // per tensor and model (1 for ram)
  std::map<size_t, std::vector<uint64_t>> states_;
};

class RamMethod : public Method {
 public:
  explicit RamMethod(bool plus) : plus_(plus) {}
  std::string_view name() const override { return plus_ ? "ramplus_tl" : "ram"; }

  std::vector<ParamSpec> parameters() const override {
    std::vector<ParamSpec> p = {
        {"epsilon", ParamType::Number, ParamScope::Job, "1e-5", {}, "a task vector entry counts above this magnitude"}};
    if (plus_) {
      p.push_back({"r", ParamType::Number, ParamScope::Job, "0.1", {}, "the unique entries' boost per unit of rho"});
      p.push_back({"alpha", ParamType::Number, ParamScope::Job, "0.2", {}, "the largest rho counted"});
    }
    return p;
  }

  std::vector<size_t> sources(const Job& job) const override {
    return base_and_task_vectors(job, name());
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    return std::make_unique<PreparedRam>(plan, params, plus_, job.models.size() - 1);
  }

 private:
  bool plus_;
};

}  // namespace

const Method& ram_method() {
  static const RamMethod m(false);
  return m;
}

const Method& ramplus_tl_method() {
  static const RamMethod m(true);
  return m;
}

}  // namespace cocktail
