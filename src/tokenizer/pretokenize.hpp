#pragma once
// Internal to the tokenizer: tokenizer.json's "pre_tokenizer" (ByteLevel,
// Split, Metaspace, BertPreTokenizer, Whitespace, WhitespaceSplit, Sequence):
// pieces of normalised text cut into the words the model encodes one by one.
#include <memory>
#include <vector>

#include "tokenizer/json.hpp"
#include "tokenizer/text.hpp"

namespace cocktail::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces every piece by its sub-pieces; empty ones are dropped, as in
  // tokenizers' PreTokenizedString::split.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

// nullptr for a null pre_tokenizer; throws cocktail::Error for an unsupported one.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& config, const JsonAt& at);

}  // namespace cocktail::tok
