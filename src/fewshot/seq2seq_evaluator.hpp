#pragma once
// Few-shot partials of one encoder-decoder candidate: the tokenised batches,
// padded per batch as transformers' DataCollatorForSeq2Seq pads them, through
// the layer-streamed T5 forward.
#include <vector>

#include "model/t5_forward.hpp"
#include "fewshot/seq2seq_sequences.hpp"
#include "fewshot/weights.hpp"

namespace cocktail {

// Inputs right-padded with pad_id (attention_mask 0 there), labels with -100.
Seq2SeqBatch to_seq2seq_batch(const std::vector<Seq2SeqRow>& rows, int64_t pad_id);

// Adds the checkpoint bytes it read to `bytes_read`.
std::vector<BatchPartial> seq2seq_partials(WeightSource& weights,
                                           const std::vector<std::vector<Seq2SeqRow>>& batches,
                                           int64_t pad_id, torch::Device device, uint64_t& bytes_read);

}  // namespace cocktail
