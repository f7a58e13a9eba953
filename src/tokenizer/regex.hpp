#pragma once
// Internal to the tokenizer: a small backtracking regex matcher with
// Oniguruma's semantics (leftmost-first alternation, greedy by default), for
// the split patterns tokenizer.json files carry (GPT-2's, Llama 3's, Qwen2's).
// std::regex has no \p{..}, hence this.
//
// Supported: literals and escapes (\t \n \r \f \v \e \xHH \x{H..} \uHHHH, escaped
// punctuation), `.`, classes [...] with ranges and negation, \s \S \d \D \w \W,
// \p{X} \P{X} \p{^X} for general categories (L, Lu, ..., N, Nd, ..., P.., S.., Z..,
// C.., M..), groups (...) (?:...) (?i:...) (?i) (?-i) (?>...), lookahead (?=...)
// (?!...), quantifiers ? * + {n} {n,} {n,m} {,m} with lazy (?) and possessive (+)
// forms. Case-insensitive matching is limited to ASCII letters (plus the two
// non-ASCII code points Oniguruma folds onto them), which covers (?i:'s|'t|...);
// a non-ASCII cased letter under (?i) is refused. Anchors, word boundaries,
// back-references and lookbehind are refused. A repeated group recurses once
// per repetition, so it is meant for short repetitions (single-character
// repeats like \p{L}+ do not recurse); a match needing more than 3000 nested
// steps throws cocktail::Error instead of overflowing the stack.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cocktail::tok {

class Regex {
 public:
  // Throws cocktail::Error "regex '<pattern>': <what> is not supported ..." when
  // the pattern uses a construct outside the list above, or is malformed.
  explicit Regex(std::string_view pattern);

  // The leftmost match starting at or after `from`, as [begin, end).
  std::optional<std::pair<size_t, size_t>> search(std::u32string_view text, size_t from) const;

  // tokenizers' Pattern::find_matches: the text cut into consecutive spans,
  // each flagged true when it is a match (Oniguruma's find_iter, which skips an
  // empty match right after the previous match). An empty text gives one
  // empty non-match.
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> find_matches(
      std::u32string_view text) const;

  // One test inside a character class.
  struct ClassItem {
    enum Kind : uint8_t { Range, Categories, Space, Word };
    Kind kind = Range;
    bool negated = false;     // \S, \P{..}: the complement of the item
    char32_t lo = 0, hi = 0;  // Range: code points; Categories: GeneralCategory values
  };
  struct Node {
    enum Kind : uint8_t { Class, Concat, Alternation, Repeat, Look, Atomic };
    enum Greed : uint8_t { Greedy, Lazy, Possessive };
    Kind kind = Class;
    // Class (a literal is a one-code-point class)
    std::vector<ClassItem> items;
    bool negated = false;
    bool caseless = false;
    // Concat, Alternation
    std::vector<int> children;
    // Repeat, Look, Atomic
    int child = -1;
    size_t min = 0, max = 0;
    Greed greed = Greedy;
    bool negative = false;  // Look: (?!...)
  };

 private:
  std::string source_;
  std::vector<Node> nodes_;
  int root_ = -1;
  friend class RegexParser;
  friend class RegexMatcher;
};

}  // namespace cocktail::tok
