#pragma once
// Few-shot partials of one decoder candidate: the tokenised batches as the
// authors pad them, through the layer-streamed forward.
#include <vector>

#include "model/decoder_forward.hpp"
#include "fewshot/decoder_sequences.hpp"
#include "fewshot/weights.hpp"

namespace cocktail {

// Right padding with pad_id, labels -100 there, and, as the authors' code
// does, attention_mask = (ids != pad_id): with pad = eos the appended EOS is
// masked too (it is last, so no scored token attends to it).
DecoderBatch to_decoder_batch(const std::vector<ScoredSequence>& rows, int64_t pad_id);

// Adds the checkpoint bytes it read to `bytes_read`.
std::vector<BatchPartial> decoder_partials(WeightSource& weights,
                                           const std::vector<std::vector<ScoredSequence>>& batches,
                                           int64_t pad_id, torch::Device device,
                                           uint64_t& bytes_read);

// Layers [layers.begin, layers.end) of the batches (decoder_stage): the
// partials when the run ends with the last layer, else none and the hidden
// states in `hidden`.
std::vector<BatchPartial> decoder_stage_partials(WeightSource& weights,
                                                 const std::vector<std::vector<ScoredSequence>>& batches,
                                                 int64_t pad_id, DecoderLayers layers,
                                                 std::vector<torch::Tensor>& hidden, torch::Device device,
                                                 uint64_t& bytes_read);

}  // namespace cocktail
