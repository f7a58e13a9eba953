#pragma once
// Internal to the tokenizer: tokenizer.json's "post_processor", which adds
// the special tokens of a single sequence or a pair, with their token type
// ids (TemplateProcessing, BertProcessing, RobertaProcessing; ByteLevel only
// moves offsets; Sequence chains them).
#include <cstdint>
#include <memory>
#include <vector>

#include "tokenizer/json.hpp"

namespace cocktail::tok {

struct Encoded {
  std::vector<int64_t> ids, type_ids;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The ids of one sequence with its special tokens (add_special_tokens=true;
  // without it, tokenizers leaves a single sequence's ids as they are).
  virtual void add_special_tokens(std::vector<int64_t>& ids) const = 0;
  // A pair (a, b) with its special tokens and token types, as tokenizers'
  // encode(a, b). Throws cocktail::Error for a chain that cannot take a pair.
  virtual Encoded add_special_tokens(const std::vector<int64_t>& a,
                                     const std::vector<int64_t>& b) const = 0;
  // How many special tokens it adds to a single sequence or a pair (what
  // truncation leaves room for).
  virtual size_t added_tokens(bool pair) const = 0;
};

// A pair without special tokens, as tokenizers joins one when nothing adds
// any: a's ids of type 0, then b's of type 1.
Encoded plain_pair(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// nullptr for a null post_processor; throws cocktail::Error for an unsupported one.
std::unique_ptr<PostProcessor> make_post_processor(const json& config, const JsonAt& at);

}  // namespace cocktail::tok
