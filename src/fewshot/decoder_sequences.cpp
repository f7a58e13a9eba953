#include "fewshot/decoder_sequences.hpp"

#include <algorithm>

namespace cocktail {

size_t ScoredSequence::scored() const {
  // Position 0 predicts nothing: the model's loss compares logits[t] with labels[t + 1].
  size_t n = 0;
  for (size_t t = 1; t < labels.size(); ++t) n += labels[t] != kIgnoredLabel;
  return n;
}

ScoredSequence decoder_sequence(const Tokenizer& tokenizer, const DecoderExample& example,
                                int64_t eos_id, size_t max_input_length) {
  ScoredSequence s;
  s.ids = tokenizer.encode(example.input + " " + example.output);
  s.ids.push_back(eos_id);
  const size_t prompt = tokenizer.encode(example.input).size();
  s.labels = s.ids;
  std::fill_n(s.labels.begin(), std::min(prompt, s.labels.size()), kIgnoredLabel);
  if (s.ids.size() > max_input_length) {
    s.ids.resize(max_input_length);
    s.labels.resize(max_input_length);
  }
  return s;
}

std::vector<std::vector<ScoredSequence>> decoder_batches(const Tokenizer& tokenizer,
                                                         const std::vector<DecoderExample>& examples,
                                                         int64_t eos_id, size_t max_input_length,
                                                         size_t batch_size,
                                                         std::vector<std::string>& skipped) {
  std::vector<std::vector<ScoredSequence>> batches;
  for (const DecoderExample& e : examples) {
    ScoredSequence s = decoder_sequence(tokenizer, e, eos_id, max_input_length);
    if (s.scored() == 0) {
      skipped.push_back(e.where);
      continue;
    }
    if (batches.empty() || batches.back().size() == batch_size) batches.emplace_back();
    batches.back().push_back(std::move(s));
  }
  return batches;
}

}  // namespace cocktail
