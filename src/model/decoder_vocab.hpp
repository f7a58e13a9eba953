#pragma once
// Internal to the decoder forward pass: the two uses of a [vocab, hidden]
// matrix, done a slice of rows at a time so that neither the matrix nor the
// [tokens, vocab] logits are ever whole in memory.
#include <cstdint>
#include <string>
#include <utility>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_forward.hpp"
#include "model/decoder_weights.hpp"

namespace cocktail {

using RowRange = std::pair<int64_t, int64_t>;  // [begin, end)

// [0, rows) cut into ranges of at most max_rows.
std::vector<RowRange> row_slices(int64_t rows, int64_t max_rows);
// Runs of consecutive ids (sorted, unique), each at most max_rows long.
std::vector<RowRange> id_runs(const std::vector<int64_t>& ids, int64_t max_rows);

// [B, T, hidden] embeddings of each batch's input_ids, from the rows in
// `ranges` of matrix `name` (they must cover every id used).
std::vector<torch::Tensor> embed_batches(WeightStream& stream, const std::string& name,
                                         const std::vector<torch::Tensor>& input_ids,
                                         const std::vector<RowRange>& ranges, int64_t hidden_size,
                                         torch::Device device);

// The final hidden states of the positions that predict a scored label
// (labels[:, 1:] != -100), and those labels.
struct ScoredTokens {
  torch::Tensor hidden;  // [N, hidden]
  torch::Tensor target;  // [N] int64
};
ScoredTokens scored_tokens(const torch::Tensor& final_hidden, const torch::Tensor& labels);

// Cross-entropy summed over each batch's scored tokens, with logits computed
// against matrix `name` one row range at a time (a running log-sum-exp),
// each soft-capped to tanh(logit / cap) * cap when `softcap` is given (gemma2).
std::vector<BatchLoss> output_losses(WeightStream& stream, const std::string& name,
                                     const std::vector<ScoredTokens>& scored,
                                     const std::vector<RowRange>& ranges,
                                     std::optional<double> softcap = std::nullopt);

}  // namespace cocktail
