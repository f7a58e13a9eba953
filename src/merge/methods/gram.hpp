#pragma once
// The Gram matrix of a tensor's vectors (slerp's two models, model_stock's
// task vectors) as exact sums over its units, threads and ranks
// (kernels/exact_dot.hpp): what the spherical and angle-based methods need
// before their apply.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "core/thread_pool.hpp"

namespace cocktail {

// The sums of n vectors: |v_i|^2 for each i, then <v_i, v_k> for i < k,
// each ExactDot::kSize integers.
struct Gram {
  int n = 0;
  int sums() const { return n + n * (n - 1) / 2; }
  int pair(int i, int k) const { return n + i * (2 * n - i - 1) / 2 + (k - i - 1); }  // i < k
};

// Fills v[i][j] with element first + j of vector i, for j < len (v[i] has
// room for ExactDot::Block::kBlock).
using GramBlock = std::function<void(size_t first, size_t len, float* const* v)>;

// Adds the Gram sums of elements [0, count) of the vectors to `state`
// (gram.sums() x ExactDot::kSize); the pool's threads take disjoint ranges.
void accumulate_gram(const Gram& gram, size_t count, const GramBlock& load, uint64_t* state, ThreadPool& pool);

// The Gram states of a method's tensors in progress (its one statistics
// pass): made on first use, freed when their sums are taken.
class GramStates {
 public:
  explicit GramStates(Gram gram) : gram_(gram) {}
  // The integer state of `tensor` (gram.sums() x ExactDot::kSize), zeros at first.
  std::span<uint64_t> state(size_t tensor);
  // The tensor's sums rounded to double, in Gram order, and the state freed;
  // nothing when no state was made for it.
  std::optional<std::vector<double>> take(size_t tensor);
  const Gram& gram() const { return gram_; }

 private:
  Gram gram_;
  std::map<size_t, std::vector<uint64_t>> states_;
};

}  // namespace cocktail
