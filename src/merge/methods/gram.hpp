#pragma once
// The Gram matrix of a tensor's vectors (slerp's two models, model_stock's
// task vectors) as exact sums over its units, threads and ranks
// (kernels/exact_dot.hpp): what the spherical and angle-based methods need
// before their apply.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "core/thread_pool.hpp"
#include "merge/methods/method.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

// The sums of n vectors: |v_i|^2 for each i, then <v_i, v_k> for i < k,
// each ExactDot::kSize integers.
struct Gram {
  int n = 0;
  int sums() const { return n + n * (n - 1) / 2; }
  int pair(int i, int k) const { return n + i * (2 * n - i - 1) / 2 + (k - i - 1); }  // i < k
  int index(int i, int k) const { return i == k ? i : pair(std::min(i, k), std::max(i, k)); }  // <v_i, v_k>
};

// The Gram sums of elements [first, first + len) of a unit's n vectors (as
// GramPass reads them), in double in element order: one row for the per-row
// variants (model_stock's filter_wise, nuslerp_flatten: false), whose rows
// lie whole in a unit. Float32 products are exact in double, so only the
// additions round, in the same order at any rank count and chunk size.
std::vector<double> row_gram(const Gram& gram, const PlannedTensor& pt, UnitInputs in, bool task_vectors,
                             size_t first, size_t len);

// The Gram sums of each column of rows [first_row, first_row + rows) of a
// unit whose rows are `cols` elements, in double in row order:
// out[k * cols + c] += sum k of column c. For nuslerp's angle per column
// (nuslerp_row_wise), summed per block of rows the plan fixes, so that the
// order of the additions does not depend on the units.
void column_gram(const Gram& gram, const PlannedTensor& pt, UnitInputs in, bool task_vectors, size_t first_row,
                 size_t rows, size_t cols, double* out);

// The one statistics pass of the methods built on a Gram matrix (slerp,
// nuslerp, multislerp, karcher, model_stock): over every merged tensor, the
// Gram sums of its n vectors (the sources, or with a base the task vectors
// source i+1 - source 0), exact. A method says what the sums give it in
// finish_tensor() and keeps its own apply.
class GramPass : public PreparedMethod {
 public:
  GramPass(const MergePlan& plan, Gram gram, bool task_vectors) : plan_(plan), gram_(gram), task_vectors_(task_vectors) {}

  int passes() const override { return gram_.n > 1 ? 1 : 0; }  // one vector is taken as it is
  bool reads(int, size_t tensor) const override { return plan_.tensors[tensor].action == TensorAction::Merge; }
  std::span<uint64_t> state(int, size_t tensor) override;
  void accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) override;
  void finish(int, size_t tensor) override;

 protected:
  // The tensor's sums rounded to double, in Gram order.
  virtual void finish_tensor(size_t tensor, const std::vector<double>& sums) = 0;

  const MergePlan& plan_;
  const Gram gram_;

 private:
  bool task_vectors_;
  std::map<size_t, std::vector<uint64_t>> states_;  // the tensors in progress
};

}  // namespace cocktail
