#pragma once
// Internal to the tokenizer: tokenizer.json's "normalizer" (BertNormalizer,
// NFC, Prepend, Replace, Sequence), applied as tokenizers applies it to each
// piece of text between added tokens.
#include <memory>

#include "fewshot/tokenizer_json.hpp"
#include "fewshot/tokenizer_text.hpp"

namespace cocktail::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(Piece& text) const = 0;
};

// nullptr for a null normalizer; throws cocktail::Error for an unsupported one.
std::unique_ptr<Normalizer> make_normalizer(const json& config, const JsonAt& at);

// A regex source that matches `literal` exactly (tokenizers escapes String
// patterns into a regex the same way, so an empty one matches everywhere).
std::string escape_regex(std::string_view literal);

}  // namespace cocktail::tok
