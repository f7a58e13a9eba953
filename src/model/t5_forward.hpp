#pragma once
// Few-shot losses of an encoder-decoder checkpoint (t5, mt5: T5, Flan-T5,
// mT5): the loss of the target given the input, as transformers'
// T5ForConditionalGeneration(input_ids, attention_mask, labels) computes it
// in float32, with the weights streamed a block at a time so a model larger
// than memory can be scored.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_forward.hpp"
#include "model/t5_config.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

struct Seq2SeqBatch {
  torch::Tensor input_ids, attention_mask;  // [B, S] int64, mask 1 on real input tokens
  torch::Tensor labels;                     // [B, T] int64, -100 = not scored (padding)
};

// The decoder reads the labels shifted right: decoder_start_token_id first,
// -100 read as pad_token_id. Every scored label counts (no further shift):
// BatchLoss is the sum of their cross-entropies and their number.
//
// Layer streaming: every batch goes through encoder block b before block
// b+1's weights are read, then the same through the decoder with the encoder
// outputs of all batches kept; so each tensor is read once and at most one
// block's weights are in memory. The embedding lookups read only the rows of
// the batches' tokens; the output matrix is read in row slices no larger
// than a block. ForwardStats::largest_layer_bytes is the float32 size of the
// largest block. Throws cocktail::Error naming the tensor that is missing or
// has the wrong shape (all are checked before any is read), or the batch
// whose shapes or ids do not fit.
std::vector<BatchLoss> t5_batch_losses(WeightSource& weights, const T5Config& cfg,
                                       const std::vector<Seq2SeqBatch>& batches, torch::Device device,
                                       ForwardStats* stats = nullptr);
// The same, reading a checkpoint as stored.
inline std::vector<BatchLoss> t5_batch_losses(const Checkpoint& ckpt, const T5Config& cfg,
                                       const std::vector<Seq2SeqBatch>& batches, torch::Device device,
                                       ForwardStats* stats = nullptr) {
  CheckpointSource source(ckpt);
  return t5_batch_losses(source, cfg, batches, device, stats);
}

}  // namespace cocktail
