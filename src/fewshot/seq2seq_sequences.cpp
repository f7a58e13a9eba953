#include "fewshot/seq2seq_sequences.hpp"

#include "fewshot/encoder_sequences.hpp"

namespace cocktail {

std::vector<std::vector<Seq2SeqRow>> seq2seq_batches(const Tokenizer& tokenizer,
                                                     const std::vector<DecoderExample>& examples,
                                                     size_t max_input_length, size_t batch_size) {
  std::vector<std::vector<Seq2SeqRow>> batches;
  for (const DecoderExample& e : examples) {
    if (batches.empty() || batches.back().size() == batch_size) batches.emplace_back();
    batches.back().push_back({encode_truncated(tokenizer, e.input, max_input_length),
                              encode_truncated(tokenizer, e.output, max_input_length)});
  }
  return batches;
}

}  // namespace cocktail
