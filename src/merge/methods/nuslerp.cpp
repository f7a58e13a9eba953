// NuSLERP (mergekit's nuslerp.py): slerp between two models weighted
// w_1, w_2 (t = w_2 / (w_1 + w_2), 0.5 when the sum is below 1e-6), on
// their task vectors when a base model is given (out = base + the slerp of
// x_1 - base and x_2 - base), each tensor flattened (nuslerp_flatten, the
// default):
//   u_i = v_i / max(|v_i|, 1e-7),  cos = clamp(<u_1, u_2>, -1, 1)
//   colinear (1 - cos^2 <= 1e-16):  (1 - t) v_1 + t v_2
//   otherwise:  (sin((1 - t) theta) v_1 + sin(t theta) v_2) / sin(theta)
// per element in float32 as torch does (t itself in double, as Python
// computes it). One statistics pass: the two vectors' Gram sums, exactly.
// With nuslerp_flatten: false, an angle per row (the last dimension; a 1-D
// tensor is one row): units hold whole rows, each row's sums taken in its
// unit, in double; no statistics pass. With nuslerp_row_wise too, an angle
// per column (the vectors along the first dimension, as mergekit transposes
// dim 0 to the last): the statistics pass sums each column in double over
// blocks of rows the plan fixes (ColumnBlocks; units hold whole blocks),
// each block's sums kept apart in the state and added in block order at the
// end, so the order of the additions is the same at any rank count and
// chunk size.
#include <algorithm>
#include <bit>
#include <cmath>
#include <map>

#include "core/error.hpp"
#include "merge/methods/elementwise.hpp"
#include "merge/methods/gram.hpp"
#include "merge/methods/registry.hpp"
#include "merge/methods/two_models.hpp"

namespace cocktail {
namespace {

constexpr Gram kGram{2};

// A tensor seen as [rows, cols]: rows along the first dimension, each row
// the rest (a 1-D tensor: one column). Columns are summed per block of
// `block_rows` rows: at most 32 blocks, of at least 16 rows, so the state
// stays within 32 x 3 doubles per column.
struct ColumnBlocks {
  uint64_t rows = 1, cols = 1, block_rows = 1, blocks = 1;

  explicit ColumnBlocks(const PlannedTensor& t) {
    rows = t.shape.empty() || t.shape[0] == 0 ? 1 : t.shape[0];
    cols = std::max<uint64_t>(1, t.numel / rows);
    block_rows = std::max<uint64_t>(16, (rows + 31) / 32);
    blocks = (rows + block_rows - 1) / block_rows;
  }
};

enum class Angle { Tensor, Row, Column };

// A column's factors, kept for every column of every tensor until the
// apply: 12 bytes each (colinear as sin_theta 1: x / 1 is x).
struct ColumnFactors {
  float a0 = 0, a1 = 0, sin_theta = 1;
};

struct NuslerpTensor {
  double t = NAN;  // NaN: not merged (copied)
  Angle angle = Angle::Tensor;
  // After the statistics pass: the per-element factors.
  bool colinear = false;
  float a0 = 0, a1 = 0, sin_theta = 1;  // sin((1-t) theta), sin(t theta), or (1-t), t when colinear

  // The factors from the Gram sums of the two vectors (the tensor's, a row's or a column's).
  void set_factors(double aa, double bb, double ab) {
    auto norm = [](double sq) { return std::fmax(static_cast<float>(std::sqrt(sq)), 1e-7f); };
    float cos = static_cast<float>(ab / (double(norm(aa)) * double(norm(bb))));
    if (!std::isfinite(aa) || !std::isfinite(bb)) cos = NAN;  // torch's sums are NaN then
    cos = std::isnan(cos) ? cos : std::fmin(1.0f, std::fmax(-1.0f, cos));
    colinear = 1.0f - cos * cos <= 1e-16f;
    const float theta = std::acos(colinear ? 0.0f : cos);
    sin_theta = std::sin(theta);
    // (1 - t) and t are Python floats, rounded to float32 where they meet a tensor.
    const float one_minus_t_f = static_cast<float>(1.0 - t), t_f = static_cast<float>(t);
    a0 = colinear ? one_minus_t_f : std::sin(one_minus_t_f * theta);
    a1 = colinear ? t_f : std::sin(t_f * theta);
  }
};

class PreparedNuslerp : public GramPass {
 public:
  PreparedNuslerp(const MergePlan& plan, const ParamResolver& params, bool has_base, const std::vector<size_t>& models)
      : GramPass(plan, kGram, has_base), has_base_(has_base), tensors_(plan.tensors.size()) {
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
      const PlannedTensor& pt = plan.tensors[i];
      if (pt.action != TensorAction::Merge) continue;
      const double w1 = params.get("weight", pt, models[0]).number;
      const double w2 = params.get("weight", pt, models[1]).number;
      const double total = w1 + w2;
      tensors_[i].t = std::fabs(total) < 1e-6 ? 0.5 : w2 / total;
      if (params.get("nuslerp_flatten", pt).number == 0)
        tensors_[i].angle = params.get("nuslerp_row_wise", pt).number != 0 ? Angle::Column : Angle::Row;
    }
  }

  bool reads(int pass, size_t tensor) const override {
    return tensors_[tensor].angle != Angle::Row && GramPass::reads(pass, tensor);
  }

  // Per column: each block's sums as double bits, [block][sum][column]; a
  // block lies in one unit, so every other rank adds zeros to it.
  std::span<uint64_t> state(int pass, size_t tensor) override {
    if (tensors_[tensor].angle != Angle::Column) return GramPass::state(pass, tensor);
    std::vector<uint64_t>& s = column_states_[tensor];
    const ColumnBlocks g(plan_.tensors[tensor]);
    if (s.empty()) s.assign(g.blocks * kGram.sums() * g.cols, 0);
    return s;
  }

  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override {
    if (tensors_[unit.tensor].angle != Angle::Column) return GramPass::accumulate(pass, unit, in, pool);
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const ColumnBlocks g(pt);
    uint64_t* state = this->state(pass, unit.tensor).data();
    const uint64_t first_row = unit.first / g.cols, rows = unit.count / g.cols;
    const uint64_t first_block = first_row / g.block_rows;
    pool.parallel_for((rows + g.block_rows - 1) / g.block_rows, [&](size_t begin, size_t end) {
      std::vector<double> sums(kGram.sums() * g.cols);
      for (size_t b = begin; b < end; ++b) {
        std::fill(sums.begin(), sums.end(), 0.0);
        const uint64_t r = b * g.block_rows;
        column_gram(kGram, pt, in, has_base_, r, std::min(g.block_rows, rows - r), g.cols, sums.data());
        uint64_t* slot = state + (first_block + b) * sums.size();
        for (size_t k = 0; k < sums.size(); ++k) slot[k] = std::bit_cast<uint64_t>(sums[k]);
      }
    });
  }

  void finish(int pass, size_t tensor) override {
    const auto it = column_states_.find(tensor);
    if (it == column_states_.end()) return GramPass::finish(pass, tensor);
    const ColumnBlocks g(plan_.tensors[tensor]);
    std::vector<ColumnFactors>& columns = columns_[tensor];
    columns.resize(g.cols);
    NuslerpTensor n = tensors_[tensor];
    const uint64_t block = kGram.sums() * g.cols;
    for (uint64_t c = 0; c < g.cols; ++c) {
      double sums[3] = {0, 0, 0};
      for (uint64_t b = 0; b < g.blocks; ++b)
        for (int k = 0; k < 3; ++k) sums[k] += std::bit_cast<double>(it->second[b * block + k * g.cols + c]);
      n.set_factors(sums[0], sums[1], sums[kGram.pair(0, 1)]);
      columns[c] = {n.a0, n.a1, n.colinear ? 1.0f : n.sin_theta};
    }
    column_states_.erase(it);
  }

  void finish_tensor(size_t tensor, const std::vector<double>& sums) override {
    tensors_[tensor].set_factors(sums[0], sums[1], sums[kGram.pair(0, 1)]);
  }

  void apply(const WorkUnit& unit, UnitInputs in, std::byte* out, ThreadPool& pool,
             uint64_t* nonfinite) const override {
    const PlannedTensor& pt = plan_.tensors[unit.tensor];
    const NuslerpTensor& tensor = tensors_[unit.tensor];
    const uint64_t cols = tensor.angle == Angle::Row ? pt.row_length()
                          : tensor.angle == Angle::Column ? ColumnBlocks(pt).cols : 1;
    static const std::vector<ColumnFactors> kNone;
    const auto found = columns_.find(unit.tensor);
    const std::vector<ColumnFactors>& columns = found == columns_.end() ? kNone : found->second;
    apply_elementwise(
        pt, unit, in, out, pool, nonfinite,
        [&] {
          return [&, n = tensor](const float* x, size_t j) mutable {
            if (n.angle == Angle::Row && j % cols == 0) {
              const std::vector<double> sums = row_gram(kGram, pt, in, has_base_, j, cols);
              n.set_factors(sums[0], sums[1], sums[kGram.pair(0, 1)]);
            }
            const float base = has_base_ ? x[0] : 0.0f;
            const float v0 = has_base_ ? x[1] - base : x[0], v1 = has_base_ ? x[2] - base : x[1];
            float r;
            if (n.angle == Angle::Column) {
              const ColumnFactors& f = columns[j % cols];
              r = (f.a0 * v0 + f.a1 * v1) / f.sin_theta;
            } else {
              r = n.colinear ? n.a0 * v0 + n.a1 * v1 : (n.a0 * v0 + n.a1 * v1) / n.sin_theta;
            }
            return has_base_ ? base + r : r;
          };
        },
        cols);
  }

  std::string describe(size_t tensor) const override { return describe_t(tensors_[tensor].t); }
  std::string summary() const override {
    std::vector<double> t;
    for (const NuslerpTensor& n : tensors_) t.push_back(n.t);
    return summarize_t(t) + (has_base_ ? " (of the task vectors)" : "");
  }

 private:
  bool has_base_;
  std::vector<NuslerpTensor> tensors_;
  std::map<size_t, std::vector<uint64_t>> column_states_;  // the per-column tensors in progress
  std::map<size_t, std::vector<ColumnFactors>> columns_;    // per column: the factors of each
};

class NuslerpMethod : public Method {
 public:
  std::string_view name() const override { return "nuslerp"; }

  std::vector<ParamSpec> parameters() const override {
    return {{"weight", ParamType::Number, ParamScope::PerModel, std::nullopt, {}, "t = w_2 / (w_1 + w_2)"},
            {"nuslerp_flatten", ParamType::Boolean, ParamScope::Job, "true", {}, "one angle per tensor (false: per row)"},
            {"nuslerp_row_wise", ParamType::Boolean, ParamScope::Job, "false", {}, "with flatten false: per column"}};
  }

  std::vector<size_t> sources(const Job& job) const override {
    const std::string file_line = config_line(job);
    const size_t base = !job.models.empty() && job.models[0].role == ModelRole::Base ? 1 : 0;
    if (job.models.size() - base != 2)
      throw Error(file_line + ": key 'models': nuslerp merges exactly two models (besides an optional base_model); got " +
                  std::to_string(job.models.size() - base));
    if (base) return {0, 1, 2};
    return {0, 1};
  }

  uint64_t unit_alignment(const Job& job, const PlannedTensor& t) const override {
    if (t.action != TensorAction::Merge) return 1;
    const ParamResolver params(job, parameters());
    if (params.get("nuslerp_flatten", t).number != 0) return 1;
    if (params.get("nuslerp_row_wise", t).number == 0) return t.row_length();
    const ColumnBlocks g(t);
    return g.block_rows * g.cols;
  }

  std::unique_ptr<PreparedMethod> prepare(const Job& job, const MergePlan& plan) const override {
    const ParamResolver params(job, parameters());
    const bool has_base = job.models[0].role == ModelRole::Base;
    const std::vector<size_t> models = has_base ? std::vector<size_t>{1, 2} : std::vector<size_t>{0, 1};
    return std::make_unique<PreparedNuslerp>(plan, params, has_base, models);
  }
};

}  // namespace

const Method& nuslerp_method() {
  static const NuslerpMethod m;
  return m;
}

}  // namespace cocktail
