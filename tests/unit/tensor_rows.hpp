#pragma once
// A [rows, tokens] int64 tensor as nested vectors, to compare token batches
// with the ids a fixture's JSON holds.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

inline std::vector<std::vector<int64_t>> rows_of(const torch::Tensor& t) {
  std::vector<std::vector<int64_t>> rows;
  auto a = t.accessor<int64_t, 2>();
  for (int64_t i = 0; i < t.size(0); ++i) {
    rows.emplace_back();
    for (int64_t j = 0; j < t.size(1); ++j) rows.back().push_back(a[i][j]);
  }
  return rows;
}
