#pragma once
// Internal to the tokenizer: tokenizer.json's "normalizer" (BertNormalizer,
// Lowercase, NFC, NFD, Precompiled, Prepend, Replace, Sequence, Strip), applied as tokenizers applies it to each
// piece of text between added tokens.
#include <memory>

#include "tokenizer/json.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/text.hpp"

namespace cocktail::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(Piece& text) const = 0;
};

// nullptr for a null normalizer; throws cocktail::Error for an unsupported one.
std::unique_ptr<Normalizer> make_normalizer(const json& config, const JsonAt& at);
// sentencepiece's rules (precompiled.cpp).
std::unique_ptr<Normalizer> make_precompiled(const json& config, const JsonAt& at);

// The "pattern" of Replace and Split: {"String": s} matches s exactly
// (tokenizers escapes it into a regex the same way, so an empty one matches
// everywhere), {"Regex": r} is r. Throws through `at` otherwise.
Regex pattern_from_json(const json& p, const JsonAt& at);

}  // namespace cocktail::tok
