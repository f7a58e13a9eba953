#pragma once
// Internal to the tokenizer: cutting a piece at pattern matches, with the
// delimiter behaviours of tokenizers' NormalizedString::split.
#include <utility>
#include <vector>

#include "tokenizer/text.hpp"

namespace cocktail::tok {

// What becomes of each match (the delimiter).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Consecutive spans covering a text, each flagged true when it is a match.
using Matches = std::vector<std::pair<std::pair<size_t, size_t>, bool>>;

// Every code point for which `is_delimiter` holds is a match on its own.
template <class Pred>
Matches char_matches(const Piece& p, Pred is_delimiter) {
  Matches m;
  if (p.empty()) {
    m.push_back({{0, 0}, false});
    return m;
  }
  size_t last = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!is_delimiter(p.chars[i])) continue;
    if (last < i) m.push_back({{last, i}, false});
    m.push_back({{i, i + 1}, true});
    last = i + 1;
  }
  if (last < p.size()) m.push_back({{last, p.size()}, false});
  return m;
}

// Appends the non-empty pieces of `p` cut at `matches` to `out`.
void split_piece(const Piece& p, const Matches& matches, SplitBehavior behavior,
                 std::vector<Piece>& out);

}  // namespace cocktail::tok
