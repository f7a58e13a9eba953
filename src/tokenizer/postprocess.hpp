#pragma once
// Internal to the tokenizer: tokenizer.json's "post_processor", which adds
// the special tokens of a single sequence (TemplateProcessing, BertProcessing,
// RobertaProcessing; ByteLevel only moves offsets; Sequence chains them).
#include <memory>
#include <vector>

#include "tokenizer/json.hpp"

namespace cocktail::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The ids of one sequence with its special tokens (add_special_tokens=true;
  // without it, tokenizers leaves a single sequence's ids as they are).
  virtual void add_special_tokens(std::vector<int64_t>& ids) const = 0;
};

// nullptr for a null post_processor; throws cocktail::Error for an unsupported one.
std::unique_ptr<PostProcessor> make_post_processor(const json& config, const JsonAt& at);

}  // namespace cocktail::tok
