#pragma once
// The authors' preprocessing of decoder examples (FlagEmbedding
// LM_Cocktail/utils.py), reproduced exactly so losses match theirs:
//   ids    = encode(input + " " + output) with the tokenizer's special tokens, then EOS
//   labels = ids, with the first len(encode(input)) positions set to -100
//   truncated to max_input_length keeping the start
// Batches are consecutive runs of batch_size examples in input order.
#include <cstdint>
#include <string>
#include <vector>

#include "fewshot/examples.hpp"
#include "tokenizer/tokenizer.hpp"

namespace cocktail {

inline constexpr int64_t kIgnoredLabel = -100;

struct ScoredSequence {
  std::vector<int64_t> ids;
  std::vector<int64_t> labels;  // kIgnoredLabel where not scored
  size_t scored() const;        // labels that count after the causal shift
};

ScoredSequence decoder_sequence(const Tokenizer& tokenizer, const DecoderExample& example,
                                int64_t eos_id, size_t max_input_length);

// Examples whose prompt fills max_input_length leave nothing to score: the
// authors' code would average over zero tokens (NaN). They are skipped and
// named in `skipped`.
std::vector<std::vector<ScoredSequence>> decoder_batches(const Tokenizer& tokenizer,
                                                         const std::vector<DecoderExample>& examples,
                                                         int64_t eos_id, size_t max_input_length,
                                                         size_t batch_size,
                                                         std::vector<std::string>& skipped);

}  // namespace cocktail
