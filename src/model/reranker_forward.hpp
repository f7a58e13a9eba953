#pragma once
// Few-shot losses of a cross-encoder (reranker) checkpoint: bert or
// xlm-roberta with a one-label sequence-classification head
// (BertForSequenceClassification, XLMRobertaForSequenceClassification: the
// bge-reranker family), scored as FlagEmbedding trains rerankers: each
// (query, passage) pair is one sequence, its score the head's logit, and each
// query's group of [positive, negatives...] scores goes through a
// cross-entropy whose target is the positive. Layer-streamed as the encoder
// forward (encoder_forward.hpp); the head is read last.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/encoder_forward.hpp"

namespace cocktail {

// One batch of pairs, padded on the right: rows = queries * group_size, laid
// out per query as [pos, neg_1 .. neg_k].
struct RerankerBatch {
  torch::Tensor ids, mask, type_ids;  // [rows, tokens] int64
  int64_t group_size = 0;
};

// Names and shapes of the head's tensors (checked with the encoder's before
// anything is read). Throws cocktail::Error when the checkpoint has no
// one-label head, naming the tensor.
std::vector<TensorSpec> reranker_head_specs(const EncoderConfig& cfg, const EncoderTensorNames& names);

// Per batch: the sum over its queries of the group cross-entropy, and the
// number of queries (FlagEmbedding's batch loss is their ratio).
std::vector<EncoderBatchLoss> reranker_batch_losses(WeightSource& weights, const EncoderConfig& cfg,
                                                    const std::vector<RerankerBatch>& batches,
                                                    torch::Device device, ForwardStats* stats = nullptr);
// The same, reading a checkpoint as stored.
inline std::vector<EncoderBatchLoss> reranker_batch_losses(const Checkpoint& ckpt, const EncoderConfig& cfg,
                                                    const std::vector<RerankerBatch>& batches,
                                                    torch::Device device, ForwardStats* stats = nullptr) {
  CheckpointSource source(ckpt);
  return reranker_batch_losses(source, cfg, batches, device, stats);
}

}  // namespace cocktail
