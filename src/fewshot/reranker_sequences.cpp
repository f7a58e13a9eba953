#include "fewshot/reranker_sequences.hpp"

#include "fewshot/encoder_sequences.hpp"

namespace cocktail {

std::vector<RerankerRows> reranker_batches(const Tokenizer& tokenizer,
                                           const std::vector<EncoderExample>& examples,
                                           size_t neg_number, size_t max_input_length,
                                           size_t batch_size, uint64_t seed, bool token_types) {
  std::vector<RerankerRows> batches;
  for (size_t i = 0; i < examples.size(); ++i) {
    const EncoderExample& e = examples[i];
    if (i % batch_size == 0) batches.push_back({{}, 1 + neg_number});
    RerankerRows& b = batches.back();
    const auto add = [&](const std::string& passage) {
      Tokenizer::Pair p = tokenizer.encode_pair(e.query, passage, max_input_length);
      if (!token_types) p.type_ids.assign(p.ids.size(), 0);
      b.pairs.push_back(std::move(p));
    };
    add(e.pos);
    for (size_t n : sample_negatives(e.neg.size(), neg_number, seed, i)) add(e.neg[n]);
  }
  return batches;
}

}  // namespace cocktail
