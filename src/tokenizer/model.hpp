#pragma once
// Internal to the tokenizer: tokenizer.json's "model", which turns one
// pre-tokenised word into ids (BPE, WordPiece, Unigram).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/json.hpp"

namespace cocktail::tok {

// Heterogeneous lookup, so a string_view finds a std::string key unchanged.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` (UTF-8) to `ids`. Throws cocktail::Error when the
  // model needs its unknown token and the vocabulary lacks it.
  virtual void tokenize(std::string_view word, std::vector<int64_t>& ids) const = 0;
  const Vocab& vocab() const { return vocab_; }
  std::optional<uint32_t> token_to_id(std::string_view token) const {
    const auto it = vocab_.find(token);
    return it == vocab_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }

 protected:
  explicit Model(Vocab vocab) : vocab_(std::move(vocab)) {}
  Vocab vocab_;
};

// Throws cocktail::Error for a model type other than BPE, WordPiece and
// Unigram, or a malformed one.
std::unique_ptr<Model> make_model(const json& config, const JsonAt& at);

// The builders behind make_model (bpe.cpp, wordpiece.cpp, unigram.cpp).
Vocab read_vocab(const json& config, const JsonAt& at);
std::unique_ptr<Model> make_bpe(const json& config, const JsonAt& at);
std::unique_ptr<Model> make_wordpiece(const json& config, const JsonAt& at);
std::unique_ptr<Model> make_unigram(const json& config, const JsonAt& at);

}  // namespace cocktail::tok
