#pragma once
// The authors' preprocessing of embedding-model examples (FlagEmbedding
// LM_Cocktail/utils.py, preprocess_data_for_embedder): per batch the queries,
// and per query [pos[0], neg_1 .. neg_k] passages, each tokenised with the
// tokenizer's special tokens and truncated to max_input_length keeping them
// (BERT: [CLS] ... [SEP]). The authors sample negatives unseeded; here they
// come from `seed`, so runs repeat at any rank count.
#include <cstdint>
#include <vector>

#include "fewshot/examples.hpp"
#include "tokenizer/tokenizer.hpp"

namespace cocktail {

struct EncoderRows {
  std::vector<std::vector<int64_t>> queries, passages;
};

// encode(text) with special tokens, cut to `max_len` as transformers truncates:
// the content shortens, the template's special tokens stay.
std::vector<int64_t> encode_truncated(const Tokenizer& tokenizer, const std::string& text,
                                      size_t max_len);

// `neg_number` of `count` negatives, without replacement, a function of
// (seed, example index) only.
std::vector<size_t> sample_negatives(size_t count, size_t neg_number, uint64_t seed,
                                     size_t example_index);

std::vector<EncoderRows> encoder_batches(const Tokenizer& tokenizer,
                                         const std::vector<EncoderExample>& examples,
                                         size_t neg_number, size_t max_input_length,
                                         size_t batch_size, uint64_t seed);

}  // namespace cocktail
