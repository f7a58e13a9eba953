#include "fewshot/reranker_evaluator.hpp"

#include <algorithm>

namespace cocktail {

RerankerBatch to_reranker_batch(const RerankerRows& rows, int64_t pad_id) {
  size_t length = 0;
  for (const auto& p : rows.pairs) length = std::max(length, p.ids.size());
  const auto n = static_cast<int64_t>(rows.pairs.size()), t = static_cast<int64_t>(length);
  RerankerBatch b{torch::full({n, t}, pad_id, torch::kInt64), torch::zeros({n, t}, torch::kInt64),
                  torch::zeros({n, t}, torch::kInt64), static_cast<int64_t>(rows.group_size)};
  auto ids = b.ids.accessor<int64_t, 2>();
  auto mask = b.mask.accessor<int64_t, 2>();
  auto types = b.type_ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const Tokenizer::Pair& p = rows.pairs[static_cast<size_t>(i)];
    for (size_t j = 0; j < p.ids.size(); ++j) {
      ids[i][static_cast<int64_t>(j)] = p.ids[j];
      mask[i][static_cast<int64_t>(j)] = 1;
      types[i][static_cast<int64_t>(j)] = p.type_ids[j];
    }
  }
  return b;
}

std::vector<BatchPartial> reranker_partials(WeightSource& weights,
                                            const std::vector<RerankerRows>& batches, int64_t pad_id,
                                            torch::Device device, uint64_t& bytes_read) {
  const EncoderConfig config = read_encoder_config(weights.layout().folder() / "config.json");
  std::vector<RerankerBatch> tensors;
  for (const auto& b : batches) tensors.push_back(to_reranker_batch(b, pad_id));
  ForwardStats stats;
  std::vector<BatchPartial> out;
  for (const EncoderBatchLoss& l : reranker_batch_losses(weights, config, tensors, device, &stats))
    out.push_back({l.loss_sum, static_cast<double>(l.queries)});
  bytes_read += stats.bytes_read;
  return out;
}

}  // namespace cocktail
