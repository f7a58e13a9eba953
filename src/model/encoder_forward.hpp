#pragma once
// Few-shot losses of an encoder checkpoint (bert, xlm-roberta: BGE, BGE-M3),
// computed as the LM-Cocktail authors' embedder loss does with transformers'
// BertModel / XLMRobertaModel in float32, with the weights streamed a layer at
// a time so a model larger than memory can be scored.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_forward.hpp"
#include "model/encoder_config.hpp"
#include "model/encoder_weights.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

// One batch as the authors tokenise it: queries and passages padded
// separately (right padding). Passages are laid out per query as
// [pos, neg_1 .. neg_k], so P = Q * (1 + neg_number).
struct EncoderBatch {
  torch::Tensor query_ids, query_mask;      // [Q, Tq] int64
  torch::Tensor passage_ids, passage_mask;  // [P, Tp] int64
};

// Sum of the per-query cross-entropies of one batch and the number of
// queries; the authors' batch loss (CrossEntropyLoss mean) is their ratio.
struct EncoderBatchLoss {
  double loss_sum = 0;
  int64_t queries = 0;
};

// The authors' fixed temperature of the similarity scores.
constexpr double kEncoderScoreTemperature = 0.05;

// CLS (first token) of the last hidden state, L2-normalised; scores =
// q . p / 0.05 against every passage of the batch (in-batch negatives); the
// target of query i is passage i * (1 + neg_number).
//
// Layer streaming: the queries and passages of every batch go through layer l
// before layer l+1's weights are read, so each tensor is read once and at most
// one layer's weights are in memory (plus the activations of all batches).
// The word and position embeddings are read whole, in row slices no larger
// than a layer; the pooler is never read. ForwardStats::largest_layer_bytes is
// the float32 size of one encoder layer. Throws cocktail::Error naming the
// tensor that is missing or has the wrong shape (all are checked before any is
// read), or the batch whose shapes, token ids or length do not fit.
std::vector<EncoderBatchLoss> encoder_batch_losses(WeightSource& weights, const EncoderConfig& cfg,
                                                   const std::vector<EncoderBatch>& batches,
                                                   int64_t neg_number, torch::Device device,
                                                   ForwardStats* stats = nullptr);
// The same, reading a checkpoint as stored.
inline std::vector<EncoderBatchLoss> encoder_batch_losses(const Checkpoint& ckpt, const EncoderConfig& cfg,
                                                   const std::vector<EncoderBatch>& batches,
                                                   int64_t neg_number, torch::Device device,
                                                   ForwardStats* stats = nullptr) {
  CheckpointSource source(ckpt);
  return encoder_batch_losses(source, cfg, batches, neg_number, device, stats);
}

// One padded group of token rows for encoder_hidden_states; `what` and
// `where` name it in errors ("query", "batch 3").
struct EncoderRowsTensor {
  torch::Tensor ids, mask;  // [rows, tokens] int64, mask 1 on real tokens
  torch::Tensor type_ids;   // [rows, tokens] token types, or undefined for type 0
  std::string what, where;
};

// The last hidden states [rows, tokens, hidden] of every group, layer-
// streamed as above: every group goes through layer l before layer l+1 is
// read. Checks each group's ids, types and positions first (cocktail::Error
// naming the group); sets `layer_bytes` to the float32 size of one layer.
// The embedders' loss above and the rerankers' (reranker_forward) use it.
std::vector<torch::Tensor> encoder_hidden_states(const EncoderConfig& cfg,
                                                 const EncoderTensorNames& names,
                                                 const std::vector<EncoderRowsTensor>& groups,
                                                 torch::Device device, WeightStream& stream,
                                                 int64_t& layer_bytes);

}  // namespace cocktail
