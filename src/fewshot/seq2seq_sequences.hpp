#pragma once
// Preprocessing of encoder-decoder examples ({"input", "output"}, the decoder
// format). The authors' package takes `encoder-decoder` models but has no
// loss for them (its load_model raises NotImplementedError), so this is
// cocktail's definition, the seq2seq fine-tuning recipe transformers users
// know (docs/fewshot.md):
//   input  = tokenizer(input, truncation=True, max_length=max_input_length)
//   labels = tokenizer(text_target=output, truncation=True, max_length=...)
// both with the tokenizer's special tokens (T5 appends </s>). Batches are
// consecutive runs of batch_size examples in input order.
#include <cstdint>
#include <vector>

#include "fewshot/examples.hpp"
#include "tokenizer/tokenizer.hpp"

namespace cocktail {

struct Seq2SeqRow {
  std::vector<int64_t> input, labels;
};

std::vector<std::vector<Seq2SeqRow>> seq2seq_batches(const Tokenizer& tokenizer,
                                                     const std::vector<DecoderExample>& examples,
                                                     size_t max_input_length, size_t batch_size);

}  // namespace cocktail
