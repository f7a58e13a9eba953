#include "fewshot/decoder_evaluator.hpp"

#include <algorithm>

namespace cocktail {

DecoderBatch to_decoder_batch(const std::vector<ScoredSequence>& rows, int64_t pad_id) {
  size_t length = 0;
  for (const auto& r : rows) length = std::max(length, r.ids.size());
  const auto n = static_cast<int64_t>(rows.size()), t = static_cast<int64_t>(length);
  // Padding to the batch's longest row instead of max_input_length gives the
  // same loss: under causal attention no real token sees a later pad.
  torch::Tensor ids = torch::full({n, t}, pad_id, torch::kInt64);
  torch::Tensor labels = torch::full({n, t}, kIgnoredLabel, torch::kInt64);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto labels_a = labels.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (size_t j = 0; j < rows[i].ids.size(); ++j) {
      ids_a[i][j] = rows[i].ids[j];
      labels_a[i][j] = rows[i].labels[j];
    }
  return {ids, ids.ne(pad_id).to(torch::kInt64), labels};
}

namespace {

std::vector<BatchPartial> partials_of(WeightSource& weights, const DecoderConfig& config,
                                      const std::vector<std::vector<ScoredSequence>>& batches, int64_t pad_id,
                                      DecoderLayers layers, std::vector<torch::Tensor>& hidden, torch::Device device,
                                      uint64_t& bytes_read) {
  std::vector<DecoderBatch> tensors;
  for (const auto& b : batches) tensors.push_back(to_decoder_batch(b, pad_id));
  ForwardStats stats;
  std::vector<BatchPartial> out;
  for (const BatchLoss& l : decoder_stage(weights, config, tensors, device, layers, hidden, &stats))
    out.push_back({l.loss_sum, static_cast<double>(l.tokens)});
  bytes_read += stats.bytes_read;
  return out;
}

}  // namespace

std::vector<BatchPartial> decoder_stage_partials(WeightSource& weights,
                                                 const std::vector<std::vector<ScoredSequence>>& batches,
                                                 int64_t pad_id, DecoderLayers layers,
                                                 std::vector<torch::Tensor>& hidden, torch::Device device,
                                                 uint64_t& bytes_read) {
  const DecoderConfig config = read_decoder_config(weights.layout().folder() / "config.json");
  return partials_of(weights, config, batches, pad_id, layers, hidden, device, bytes_read);
}

std::vector<BatchPartial> decoder_partials(WeightSource& weights,
                                           const std::vector<std::vector<ScoredSequence>>& batches,
                                           int64_t pad_id, torch::Device device,
                                           uint64_t& bytes_read) {
  const DecoderConfig config = read_decoder_config(weights.layout().folder() / "config.json");
  std::vector<torch::Tensor> hidden;
  return partials_of(weights, config, batches, pad_id, {0, config.num_layers, true}, hidden, device, bytes_read);
}

}  // namespace cocktail
