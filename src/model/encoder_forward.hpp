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
std::vector<EncoderBatchLoss> encoder_batch_losses(const Checkpoint& ckpt, const EncoderConfig& cfg,
                                                   const std::vector<EncoderBatch>& batches,
                                                   int64_t neg_number, torch::Device device,
                                                   ForwardStats* stats = nullptr);

}  // namespace cocktail
