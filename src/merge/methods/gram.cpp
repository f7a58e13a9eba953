#include "merge/methods/gram.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "exact_dot.hpp"
#include "merge/methods/widen.hpp"

namespace cocktail {
namespace {

// The block [first, first + len) of a unit's n vectors as float32: sources
// 0..n-1, or with a base (source 0) the task vectors source i+1 - source 0.
void load_vectors(const PlannedTensor& pt, UnitInputs in, bool has_base, int n, size_t first, size_t len,
                  float* const* v) {
  const size_t m = has_base ? 1 : 0;
  for (int i = 0; i < n; ++i) widen(in[m + i], pt.sources[m + i].tensor->info.dtype, first, len, v[i]);
  if (!has_base) return;
  thread_local std::vector<float> base;  // per thread
  base.resize(len);
  widen(in[0], pt.sources[0].tensor->info.dtype, first, len, base.data());
  for (int i = 0; i < n; ++i)
    for (size_t j = 0; j < len; ++j) v[i][j] = v[i][j] - base[j];
}

// Fills v[i][j] with element first + j of vector i, for j < len (v[i] has
// room for ExactDot::Block::kBlock).
using GramBlock = std::function<void(size_t first, size_t len, float* const* v)>;

// Adds the Gram sums of elements [0, count) of the vectors to `state`
// (gram.sums() x ExactDot::kSize); the pool's threads take disjoint ranges.
void accumulate_gram(const Gram& gram, size_t count, const GramBlock& load, uint64_t* state, ThreadPool& pool) {
  constexpr size_t kBlock = ExactDot::Block::kBlock;
  const int n = gram.n;
  std::mutex mu;
  pool.parallel_for(count, [&](size_t begin, size_t end) {
    std::vector<uint64_t> local(size_t(gram.sums()) * ExactDot::kSize, 0);
    const auto block = std::make_unique<ExactDot::Block>(gram.sums());
    std::vector<float> values(size_t(n) * kBlock);
    std::vector<float*> v(n);
    for (int i = 0; i < n; ++i) v[i] = values.data() + size_t(i) * kBlock;
    for (size_t first = begin; first < end; first += kBlock) {
      const size_t len = std::min(kBlock, end - first);
      load(first, len, v.data());
      if (n == 2) {
        // slerp's three sums per element in one loop: independent chains
        // the core overlaps (fewer perf samples than one sum at a time).
        for (size_t j = 0; j < len; ++j) {
          block->add(j & 1, 0, local.data(), v[0][j], v[0][j]);
          block->add(j & 1, 1, local.data(), v[1][j], v[1][j]);
          block->add(j & 1, 2, local.data(), v[0][j], v[1][j]);
        }
      } else {
        for (int i = 0; i < n; ++i)
          for (int k = i; k < n; ++k) block->add(k == i ? i : gram.pair(i, k), v[i], v[k], len, local.data());
      }
      block->flush(local.data());
    }
    std::lock_guard lock(mu);  // unsigned sums: any order gives the same bits
    for (size_t k = 0; k < local.size(); ++k) state[k] += local[k];
  });
}

}  // namespace

std::vector<double> row_gram(const Gram& gram, const PlannedTensor& pt, UnitInputs in, bool task_vectors,
                             size_t first, size_t len) {
  thread_local std::vector<float> values;
  values.resize(size_t(gram.n) * len);
  std::vector<float*> v(gram.n);
  for (int i = 0; i < gram.n; ++i) v[i] = values.data() + size_t(i) * len;
  load_vectors(pt, in, task_vectors, gram.n, first, len, v.data());
  std::vector<double> sums(gram.sums(), 0.0);
  for (int i = 0; i < gram.n; ++i)
    for (int k = i; k < gram.n; ++k) {
      double s = 0;
      for (size_t j = 0; j < len; ++j) s += double(v[i][j]) * double(v[k][j]);
      sums[gram.index(i, k)] = s;
    }
  return sums;
}

void column_gram(const Gram& gram, const PlannedTensor& pt, UnitInputs in, bool task_vectors, size_t first_row,
                 size_t rows, size_t cols, double* out) {
  thread_local std::vector<float> values;
  values.resize(size_t(gram.n) * cols);
  std::vector<float*> v(gram.n);
  for (int i = 0; i < gram.n; ++i) v[i] = values.data() + size_t(i) * cols;
  for (size_t r = first_row; r < first_row + rows; ++r) {
    load_vectors(pt, in, task_vectors, gram.n, r * cols, cols, v.data());
    for (int i = 0; i < gram.n; ++i)
      for (int k = i; k < gram.n; ++k) {
        double* sum = out + size_t(gram.index(i, k)) * cols;
        for (size_t c = 0; c < cols; ++c) sum[c] += double(v[i][c]) * double(v[k][c]);
      }
  }
}

std::span<uint64_t> GramPass::state(int, size_t tensor) {
  std::vector<uint64_t>& s = states_[tensor];
  if (s.empty()) s.assign(size_t(gram_.sums()) * ExactDot::kSize, 0);
  return s;
}

void GramPass::accumulate(int pass, const WorkUnit& unit, UnitInputs in, ThreadPool& pool) {
  const PlannedTensor& pt = plan_.tensors[unit.tensor];
  accumulate_gram(
      gram_, unit.count,
      [&](size_t first, size_t len, float* const* v) { load_vectors(pt, in, task_vectors_, gram_.n, first, len, v); },
      state(pass, unit.tensor).data(), pool);
}

void GramPass::finish(int, size_t tensor) {
  const auto it = states_.find(tensor);
  if (it == states_.end()) return;
  std::vector<double> sums(gram_.sums());
  for (int k = 0; k < gram_.sums(); ++k) sums[k] = ExactDot::value(it->second.data() + size_t(k) * ExactDot::kSize);
  states_.erase(it);
  finish_tensor(tensor, sums);
}

}  // namespace cocktail
