#pragma once
// The committed expected/*.json fixtures, read by the forward-pass tests.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": missing (run tests/fixtures/make_fixtures.py)");
  return nlohmann::json::parse(in);
}

// A JSON list of equally long integer rows as a [rows, tokens] int64 tensor.
inline torch::Tensor int_matrix(const nlohmann::json& rows) {
  std::vector<int64_t> flat;
  for (const nlohmann::json& row : rows)
    for (const nlohmann::json& v : row) flat.push_back(v.get<int64_t>());
  const auto b = static_cast<int64_t>(rows.size());
  const int64_t t = b == 0 ? 0 : static_cast<int64_t>(rows[0].size());
  return torch::tensor(flat, torch::kLong).view({b, t});
}
