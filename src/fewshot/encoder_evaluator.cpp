#include "fewshot/encoder_evaluator.hpp"

#include <algorithm>

namespace cocktail {
namespace {

void pad_rows(const std::vector<std::vector<int64_t>>& rows, int64_t pad_id, torch::Tensor& ids,
              torch::Tensor& mask) {
  size_t length = 0;
  for (const auto& r : rows) length = std::max(length, r.size());
  const auto n = static_cast<int64_t>(rows.size()), t = static_cast<int64_t>(length);
  ids = torch::full({n, t}, pad_id, torch::kInt64);
  mask = torch::zeros({n, t}, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ids_a[i][j] = rows[i][j];
      mask_a[i][j] = 1;
    }
}

}  // namespace

EncoderBatch to_encoder_batch(const EncoderRows& rows, int64_t pad_id) {
  EncoderBatch b;
  pad_rows(rows.queries, pad_id, b.query_ids, b.query_mask);
  pad_rows(rows.passages, pad_id, b.passage_ids, b.passage_mask);
  return b;
}

std::vector<BatchPartial> encoder_partials(WeightSource& weights,
                                           const std::vector<EncoderRows>& batches,
                                           int64_t pad_id, int64_t neg_number,
                                           torch::Device device, uint64_t& bytes_read) {
  const EncoderConfig config = read_encoder_config(weights.layout().folder() / "config.json");
  std::vector<EncoderBatch> tensors;
  for (const auto& b : batches) tensors.push_back(to_encoder_batch(b, pad_id));
  ForwardStats stats;
  std::vector<BatchPartial> out;
  for (const EncoderBatchLoss& l : encoder_batch_losses(weights, config, tensors, neg_number, device, &stats))
    out.push_back({l.loss_sum, static_cast<double>(l.queries)});
  bytes_read += stats.bytes_read;
  return out;
}

}  // namespace cocktail
