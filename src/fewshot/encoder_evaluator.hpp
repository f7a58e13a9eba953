#pragma once
// Few-shot partials of one embedding-model candidate: the tokenised batches,
// padded as transformers pads them, through the layer-streamed encoder.
#include <vector>

#include "model/encoder_forward.hpp"
#include "fewshot/encoder_sequences.hpp"
#include "fewshot/weights.hpp"

namespace cocktail {

// Right padding to each side's longest row; attention mask 1 on real tokens.
EncoderBatch to_encoder_batch(const EncoderRows& rows, int64_t pad_id);

// Adds the checkpoint bytes it read to `bytes_read`. Partials count queries.
std::vector<BatchPartial> encoder_partials(WeightSource& weights,
                                           const std::vector<EncoderRows>& batches,
                                           int64_t pad_id, int64_t neg_number,
                                           torch::Device device, uint64_t& bytes_read);

}  // namespace cocktail
