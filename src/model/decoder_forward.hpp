#pragma once
// Few-shot losses of a decoder checkpoint (llama, mistral, qwen2), computed as
// transformers' *ForCausalLM computes them in float32, with the weights
// streamed a layer at a time so a model larger than memory can be scored.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "model/decoder_config.hpp"
#include "model/decoder_weights.hpp"
#include "model/tensor_loader.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

struct DecoderBatch {
  torch::Tensor input_ids, attention_mask, labels;  // [B, T] int64; labels -100 = ignored
};

// Sum of token cross-entropies over the scored (shifted) tokens of a batch,
// and their count: logits[:, :-1] against labels[:, 1:], labels != -100.
struct BatchLoss {
  double loss_sum = 0;
  int64_t tokens = 0;
};


// Layer streaming: every batch goes through layer l before layer l+1's weights
// are read, so each tensor is read once and at most one layer's weights are in
// memory (plus the activations of all batches). The embedding and the output
// projection are read in row slices no larger than a layer. With tied
// embeddings the lookup reads only the embedding rows of the batches' tokens,
// and the whole matrix is read once more at the end for the output projection.
// Returns one BatchLoss per batch. Throws cocktail::Error naming the tensor
// that is missing or has the wrong shape (all are checked before any is read).
std::vector<BatchLoss> decoder_batch_losses(WeightSource& weights, const DecoderConfig& cfg,
                                            const std::vector<DecoderBatch>& batches,
                                            torch::Device device, ForwardStats* stats = nullptr);
// A contiguous run of a decoder's layers: one stage of a pipeline across
// ranks, each holding only its layers' weights.
struct DecoderLayers {
  int64_t begin = 0, end = 0;
  // The first stage embeds; with more stages than layers, later ones may
  // begin at layer 0 too (with nothing before them but the embedding).
  bool first = true;
};

// Layers [layers.begin, layers.end) of every batch, streamed as above. The
// first stage embeds the batches into `hidden`; a later one takes
// the [B, T, hidden_size] float32 states that left layer begin - 1 in
// `hidden` (on any device). Returns the losses and clears `hidden` when the
// run ends with the last layer (norm and output included); else leaves the
// states leaving layer end - 1 in `hidden` and returns nothing. Every batch
// runs alone through the same operations, so a forward cut into stages
// gives the same bits as one run of every layer.
std::vector<BatchLoss> decoder_stage(WeightSource& weights, const DecoderConfig& cfg,
                                     const std::vector<DecoderBatch>& batches, torch::Device device,
                                     DecoderLayers layers, std::vector<torch::Tensor>& hidden,
                                     ForwardStats* stats = nullptr);

// The same, reading a checkpoint as stored.
inline std::vector<BatchLoss> decoder_batch_losses(const Checkpoint& ckpt, const DecoderConfig& cfg,
                                            const std::vector<DecoderBatch>& batches,
                                            torch::Device device, ForwardStats* stats = nullptr) {
  CheckpointSource source(ckpt);
  return decoder_batch_losses(source, cfg, batches, device, stats);
}

}  // namespace cocktail
