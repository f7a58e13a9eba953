// Matching: backtracking over Regex's nodes (the parser is tokenizer_regex_parse.cpp).
#include "tokenizer/regex.hpp"

#include <cstdint>

#include "core/error.hpp"
#include "tokenizer/unicode.hpp"

namespace cocktail::tok {

using Node = Regex::Node;
using ClassItem = Regex::ClassItem;

namespace {

bool item_matches(const ClassItem& item, char32_t c) {
  bool in;
  switch (item.kind) {
    case ClassItem::Range:
      in = c >= item.lo && c <= item.hi;
      break;
    case ClassItem::Categories: {
      const auto g = static_cast<char32_t>(general_category(c));
      in = g >= item.lo && g <= item.hi;
      break;
    }
    case ClassItem::Space:
      in = is_white_space(c);
      break;
    case ClassItem::Word:
      in = is_regex_word_char(c);
      break;
    default:
      in = false;
  }
  return in != item.negated;
}

bool raw_class_matches(const Node& n, char32_t c) {
  for (const auto& item : n.items) {
    if (item_matches(item, c)) return true;
  }
  return false;
}

bool class_matches(const Node& n, char32_t c) {
  bool in = raw_class_matches(n, c);
  if (!in && n.caseless) {
    if (const char32_t letter = caseless_ascii_letter(c)) {
      in = raw_class_matches(n, letter) || raw_class_matches(n, letter - 32);
      if (!in)
        for_each_caseless_extra(letter, [&](char32_t x) { in = in || raw_class_matches(n, x); });
    }
  }
  return in != n.negated;
}

}  // namespace

class RegexMatcher {
 public:
  RegexMatcher(const Regex& re, std::u32string_view text)
      : nodes_(re.nodes_), source_(re.source_), text_(text) {}

  // End of the match of the whole pattern at `at`, if any.
  std::optional<size_t> match_at(int root, size_t at) {
    if (match(root, at, nullptr)) return end_;
    return std::nullopt;
  }

 private:
  // What remains to be matched after a node: the rest of a concatenation, one
  // more iteration of a repeat, or (nullptr) the end of the (sub)pattern.
  struct Cont {
    enum Kind : uint8_t { Seq, RepeatIter } kind;
    int node;
    size_t index;  // Seq: next child; RepeatIter: iterations done
    size_t start;  // RepeatIter: where this iteration began
    const Cont* next;
  };

  // Backtracking recurses once per node matched (once per iteration of a
  // repeated group): past this depth the text is refused rather than the
  // stack overflowing.
  static constexpr int kMaxDepth = 3000;  // about 1 MB of stack

  const std::vector<Node>& nodes_;
  const std::string& source_;
  std::u32string_view text_;
  size_t end_ = 0;
  int depth_ = 0;

  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  };

  bool accept(size_t i) {
    end_ = i;
    return true;
  }

  bool cont(const Cont* k, size_t i) {
    if (k == nullptr) return accept(i);
    const Node& n = nodes_[k->node];
    if (k->kind == Cont::Seq) {
      if (k->index == n.children.size()) return cont(k->next, i);
      const Cont rest{Cont::Seq, k->node, k->index + 1, 0, k->next};
      return match(n.children[k->index], i, &rest);
    }
    // An iteration that matched nothing would loop forever: stop there.
    if (i == k->start && k->index > n.min) return false;
    return repeat(k->node, k->index, i, k->next);
  }

  // The end of the first way `node` alone matches at i (lookahead, atomic).
  std::optional<size_t> sub_match(int node, size_t i) {
    const size_t saved = end_;
    const bool ok = match(node, i, nullptr);
    const size_t e = end_;
    end_ = saved;
    return ok ? std::optional<size_t>(e) : std::nullopt;
  }

  bool repeat(int id, size_t count, size_t i, const Cont* k) {
    const Node& n = nodes_[id];
    auto more = [&] {
      if (count >= n.max) return false;
      const Cont c{Cont::RepeatIter, id, count + 1, i, k};
      return match(n.child, i, &c);
    };
    auto stop = [&] { return count >= n.min && cont(k, i); };
    return n.greed == Node::Lazy ? (stop() || more()) : (more() || stop());
  }

  bool match(int id, size_t i, const Cont* k) {
    const DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) {
      throw Error("regex '" + source_ + "': the text needs more than " + std::to_string(kMaxDepth) +
                  " nested steps to match (a repeated group over a long stretch)");
    }
    const Node& n = nodes_[id];
    switch (n.kind) {
      case Node::Class:
        return i < text_.size() && class_matches(n, text_[i]) && cont(k, i + 1);
      case Node::Concat: {
        if (n.children.empty()) return cont(k, i);
        const Cont rest{Cont::Seq, id, 1, 0, k};
        return match(n.children[0], i, &rest);
      }
      case Node::Alternation:
        for (int child : n.children) {
          if (match(child, i, k)) return true;
        }
        return false;
      case Node::Look: {
        const bool found = sub_match(n.child, i).has_value();
        return found != n.negative && cont(k, i);
      }
      case Node::Atomic: {
        const auto e = sub_match(n.child, i);
        return e && cont(k, *e);
      }
      case Node::Repeat:
        return match_repeat(id, n, i, k);
    }
    return false;
  }

  bool match_repeat(int id, const Node& n, size_t i, const Cont* k) {
    const Node& child = nodes_[n.child];
    if (child.kind != Node::Class) {
      if (n.greed == Node::Possessive) {
        // The repeat's first (greedy) match alone, then no going back into it.
        const size_t saved = end_;
        const bool ok = repeat(id, 0, i, nullptr);
        const size_t e = end_;
        end_ = saved;
        return ok && cont(k, e);
      }
      return repeat(id, 0, i, k);
    }
    // One character per iteration: count the run once, then try the lengths
    // in the order the quantifier prefers, without recursing per character.
    size_t run = 0;
    while (run < n.max && i + run < text_.size() && class_matches(child, text_[i + run])) ++run;
    if (run < n.min) return false;
    switch (n.greed) {
      case Node::Greedy:
        for (size_t len = run + 1; len-- > n.min;) {
          if (cont(k, i + len)) return true;
        }
        return false;
      case Node::Lazy:
        for (size_t len = n.min; len <= run; ++len) {
          if (cont(k, i + len)) return true;
        }
        return false;
      case Node::Possessive:
        return cont(k, i + run);
    }
    return false;
  }
};

std::optional<std::pair<size_t, size_t>> Regex::search(std::u32string_view text,
                                                       size_t from) const {
  RegexMatcher m(*this, text);
  for (size_t start = from; start <= text.size(); ++start) {
    if (auto end = m.match_at(root_, start)) return std::pair{start, *end};
  }
  return std::nullopt;
}

std::vector<std::pair<std::pair<size_t, size_t>, bool>> Regex::find_matches(
    std::u32string_view text) const {
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> out;
  if (text.empty()) {
    out.push_back({{0, 0}, false});
    return out;
  }
  size_t prev = 0, from = 0;
  std::optional<size_t> last_match_end;
  while (from <= text.size()) {
    const auto m = search(text, from);
    if (!m) break;
    const auto [s, e] = *m;
    if (s == e && last_match_end == e) {
      from = e + 1;
      continue;
    }
    if (prev != s) out.push_back({{prev, s}, false});
    out.push_back({{s, e}, true});
    prev = e;
    last_match_end = e;
    from = s == e ? e + 1 : e;
  }
  if (prev != text.size()) out.push_back({{prev, text.size()}, false});
  return out;
}

}  // namespace cocktail::tok
