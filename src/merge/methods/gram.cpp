#include "merge/methods/gram.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "exact_dot.hpp"

namespace cocktail {

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

std::span<uint64_t> GramStates::state(size_t tensor) {
  std::vector<uint64_t>& s = states_[tensor];
  if (s.empty()) s.assign(size_t(gram_.sums()) * ExactDot::kSize, 0);
  return s;
}

std::optional<std::vector<double>> GramStates::take(size_t tensor) {
  const auto it = states_.find(tensor);
  if (it == states_.end()) return std::nullopt;
  std::vector<double> sums(gram_.sums());
  for (int k = 0; k < gram_.sums(); ++k) sums[k] = ExactDot::value(it->second.data() + size_t(k) * ExactDot::kSize);
  states_.erase(it);
  return sums;
}

}  // namespace cocktail
