#pragma once
// {query, pos, neg} examples as a cross-encoder (reranker) is trained on them
// (FlagEmbedding's reranker data): per query a group of pairs
// (query, pos[0]), (query, neg_1) .. (query, neg_k), each encoded as
// tokenizer(query, passage, truncation=True, max_length=max_input_length);
// the negatives sampled from `seed` as for embedders (encoder_sequences), so
// runs repeat at any rank count.
#include <cstdint>
#include <vector>

#include "fewshot/examples.hpp"
#include "tokenizer/tokenizer.hpp"

namespace cocktail {

struct RerankerRows {
  std::vector<Tokenizer::Pair> pairs;  // queries * group_size, grouped per query
  size_t group_size = 0;
};

// Every example has at least neg_number negatives (load_examples refuses one
// with fewer), so every group has the same size. Without `token_types` (what the
// model's tokenizer passes: passes_token_type_ids) every token is type 0.
std::vector<RerankerRows> reranker_batches(const Tokenizer& tokenizer,
                                           const std::vector<EncoderExample>& examples,
                                           size_t neg_number, size_t max_input_length,
                                           size_t batch_size, uint64_t seed, bool token_types);

}  // namespace cocktail
