#pragma once
// Internal to the tokenizer: tokenizer.json's "added_tokens", found in the
// text before the model sees it and never split. Tokens with normalized=false
// (special tokens usually) are matched in the raw text, the others in the
// normalised text, each set leftmost-longest, with tokenizers' handling of
// single_word, lstrip and rstrip.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/json.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalize.hpp"
#include "tokenizer/text.hpp"

namespace cocktail::tok {

// A stretch of text, or an added token (id set) and the text it covers.
struct Segment {
  Piece text;
  std::optional<uint32_t> id;
};

class AddedVocabulary {
 public:
  // Ids are assigned as tokenizers assigns them when it loads the file: a
  // token the model knows keeps the model's id, a new one takes the next id
  // after the model's vocabulary (the file's "id" fields agree with that in
  // files tokenizers wrote).
  AddedVocabulary(const json& list, const JsonAt& at, const Model& model,
                  const Normalizer* normalizer);

  // Cuts `text` at the tokens of the raw set (normalized == false) or of the
  // normalised set, appending the non-empty segments to `out`.
  void split(const Piece& text, bool normalized, std::vector<Segment>& out) const;

  std::optional<uint32_t> token_to_id(std::string_view content) const;
  // Added contents the model's vocabulary does not already hold.
  size_t count_not_in(const Model& model) const;

 private:
  struct Flags {
    bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
  };
  struct TrieNode {
    std::map<char32_t, int> next;
    std::optional<uint32_t> id;  // a token ends here
  };
  struct Trie {
    std::vector<TrieNode> nodes{1};
    void insert(const std::u32string& pattern, uint32_t id);
    // The longest token starting at `at`: (end, id).
    std::optional<std::pair<size_t, uint32_t>> longest_at(const std::u32string& text,
                                                          size_t at) const;
  };

  Vocab ids_;                        // content -> id
  std::map<uint32_t, Flags> flags_;  // id -> flags of the token last added with it
  Trie raw_, normalized_;
};

}  // namespace cocktail::tok
