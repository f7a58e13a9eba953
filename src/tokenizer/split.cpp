#include "tokenizer/split.hpp"

#include <algorithm>

namespace cocktail::tok {

void split_piece(const Piece& p, const Matches& matches, SplitBehavior behavior,
                 std::vector<Piece>& out) {
  // Spans to keep, as tokenizers computes them for each behaviour.
  std::vector<std::pair<size_t, size_t>> spans;
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& [span, is_match] : matches) spans.push_back(span);
      break;
    case SplitBehavior::Removed:
      for (const auto& [span, is_match] : matches) {
        if (!is_match) spans.push_back(span);
      }
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const auto& [span, is_match] : matches) {
        if (is_match == previous_match && !spans.empty()) {
          spans.back().second = span.second;
        } else {
          spans.push_back(span);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const auto& [span, is_match] : matches) {
        if (is_match && !previous_match && !spans.empty()) {
          spans.back().second = span.second;
        } else {
          spans.push_back(span);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        const auto& [span, is_match] = *it;
        if (is_match && !previous_match && !spans.empty()) {
          spans.back().first = span.first;
        } else {
          spans.push_back(span);
        }
        previous_match = is_match;
      }
      std::reverse(spans.begin(), spans.end());
      break;
    }
  }
  for (const auto& [b, e] : spans) {
    if (e > b) out.push_back(p.slice(b, e));
  }
}

}  // namespace cocktail::tok
