#pragma once
// Few-shot partials of one reranker candidate: the tokenised pair groups,
// padded as transformers pads them, through the layer-streamed cross-encoder.
#include <vector>

#include "fewshot/reranker_sequences.hpp"
#include "fewshot/weights.hpp"
#include "model/reranker_forward.hpp"

namespace cocktail {

// Right padding to the batch's longest pair; mask 1 on real tokens; type ids
// as the pair template gives them (padding type 0).
RerankerBatch to_reranker_batch(const RerankerRows& rows, int64_t pad_id);

// Adds the checkpoint bytes it read to `bytes_read`. Partials count queries.
std::vector<BatchPartial> reranker_partials(WeightSource& weights,
                                            const std::vector<RerankerRows>& batches, int64_t pad_id,
                                            torch::Device device, uint64_t& bytes_read);

}  // namespace cocktail
