// Parsing a regex source into Regex's nodes (the matcher is tokenizer_regex.cpp).
#include <cstdint>

#include "core/error.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/unicode.hpp"

namespace cocktail::tok {

using Node = Regex::Node;
using ClassItem = Regex::ClassItem;

class RegexParser {
 public:
  RegexParser(std::string_view pattern, Regex& re)
      : source_(pattern), text_(decode_utf8(pattern)), re_(re) {}

  void parse() {
    bool caseless = false;
    re_.root_ = parse_alternation(caseless);
    if (pos_ != text_.size()) fail("unbalanced ')'");
  }

 private:
  std::string_view source_;
  std::u32string text_;
  size_t pos_ = 0;
  Regex& re_;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("regex '" + std::string(source_) + "': " + what + " (at character " +
                std::to_string(pos_) + ")");
  }
  [[noreturn]] void unsupported(const std::string& what) const { fail(what + " is not supported"); }

  bool at_end() const { return pos_ >= text_.size(); }
  char32_t peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : 0;
  }
  bool eat(char32_t c) {
    if (!at_end() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  int add(Node n) {
    re_.nodes_.push_back(std::move(n));
    return static_cast<int>(re_.nodes_.size() - 1);
  }

  // `caseless` is the group's (?i) state: an inline (?i) changes it for the
  // rest of the group, later alternatives included, as in Oniguruma.
  int parse_alternation(bool& caseless) {
    Node alt;
    alt.kind = Node::Alternation;
    alt.children.push_back(parse_sequence(caseless));
    while (eat(U'|')) alt.children.push_back(parse_sequence(caseless));
    if (alt.children.size() == 1) return alt.children[0];
    return add(std::move(alt));
  }

  int parse_sequence(bool& caseless) {
    Node seq;
    seq.kind = Node::Concat;
    while (!at_end() && peek() != U'|' && peek() != U')') {
      if (peek() == U'(' && peek(1) == U'?' && inline_flags(caseless)) continue;
      const int atom = parse_atom(caseless);
      seq.children.push_back(parse_quantifiers(atom));
    }
    if (seq.children.size() == 1) return seq.children[0];
    return add(std::move(seq));
  }

  // (?i) or (?-i) alone: consumed and applied; false for any other group.
  bool inline_flags(bool& caseless) {
    size_t p = pos_ + 2;
    bool on = true, value = caseless, any = false;
    while (p < text_.size() && (text_[p] == U'i' || text_[p] == U'-')) {
      if (text_[p] == U'-') {
        on = false;
      } else {
        value = on;
        any = true;
      }
      ++p;
    }
    if (!any || p >= text_.size() || text_[p] != U')') return false;
    caseless = value;
    pos_ = p + 1;
    return true;
  }

  int parse_quantifiers(int atom) {
    size_t min, max;
    const size_t start = pos_;
    if (eat(U'?')) {
      min = 0, max = 1;
    } else if (eat(U'*')) {
      min = 0, max = SIZE_MAX;
    } else if (eat(U'+')) {
      min = 1, max = SIZE_MAX;
    } else if (peek() == U'{' && parse_interval(min, max)) {
    } else {
      return atom;
    }
    const bool interval = text_[start] == U'{';
    Node rep;
    rep.kind = Node::Repeat;
    rep.child = atom;
    rep.min = min;
    rep.max = max;
    if (eat(U'?')) {
      rep.greed = Node::Lazy;
    } else if (peek() == U'+') {
      // Oniguruma reads x{n,m}+ differently depending on the syntax in use.
      if (interval) unsupported("a quantifier after an interval");
      ++pos_;
      rep.greed = Node::Possessive;
    }
    if (peek() == U'?' || peek() == U'*' || peek() == U'+' ||
        (peek() == U'{' && interval_follows())) {
      unsupported("a quantifier on a quantifier");
    }
    return add(std::move(rep));
  }

  bool interval_follows() {
    const size_t save = pos_;
    size_t a, b;
    const bool ok = parse_interval(a, b);
    pos_ = save;
    return ok;
  }

  static bool digit(char32_t c) { return c >= U'0' && c <= U'9'; }

  // {n} {n,} {n,m} {,m}; anything else leaves pos_ alone and is a literal '{'.
  bool parse_interval(size_t& min, size_t& max) {
    size_t p = pos_ + 1;
    auto number = [&](size_t& out) {
      if (p >= text_.size() || !digit(text_[p])) return false;
      out = 0;
      while (p < text_.size() && digit(text_[p])) {
        out = out * 10 + (text_[p] - U'0');
        if (out > 100000) fail("repeat count too large");
        ++p;
      }
      return true;
    };
    size_t lo = 0, hi = 0;
    const bool has_lo = number(lo);
    if (p < text_.size() && text_[p] == U',') {
      ++p;
      const bool has_hi = number(hi);
      if (!has_lo && !has_hi) return false;
      if (!has_hi) hi = SIZE_MAX;
    } else {
      if (!has_lo) return false;
      hi = lo;
    }
    if (p >= text_.size() || text_[p] != U'}') return false;
    if (hi < lo) fail("interval {n,m} with m < n");
    pos_ = p + 1;
    min = lo, max = hi;
    return true;
  }

  int parse_atom(bool& caseless) {
    const char32_t c = peek();
    switch (c) {
      case U'(':
        return parse_group(caseless);
      case U'[':
        return parse_class(caseless);
      case U'.': {
        ++pos_;
        Node n;  // any character but a newline (Oniguruma's default)
        n.negated = true;
        n.items.push_back(ClassItem{ClassItem::Range, false, U'\n', U'\n'});
        return add(std::move(n));
      }
      case U'^':
      case U'$':
        unsupported("the anchor '" + to_utf8(std::u32string(1, c)) + "'");
      case U'*':
      case U'+':
      case U'?':
        fail("a quantifier with nothing to repeat");
      case U'\\': {
        Node n;
        n.caseless = caseless;
        n.items.push_back(parse_escape(false));
        check_caseless(n);
        return add(std::move(n));
      }
      default: {
        ++pos_;
        Node n;
        n.caseless = caseless;
        n.items.push_back(ClassItem{ClassItem::Range, false, c, c});
        check_caseless(n);
        return add(std::move(n));
      }
    }
  }

  int parse_group(bool& outer_caseless) {
    ++pos_;  // '('
    bool caseless = outer_caseless;
    Node::Kind kind = Node::Concat;  // a plain group is just its content
    bool negative = false;
    if (eat(U'?')) {
      const char32_t c = peek();
      if (c == U':') {
        ++pos_;
      } else if (c == U'=' || c == U'!') {
        ++pos_;
        kind = Node::Look;
        negative = c == U'!';
      } else if (c == U'>') {
        ++pos_;
        kind = Node::Atomic;
      } else if (c == U'i' || c == U'-') {
        bool on = true;
        while (peek() == U'i' || peek() == U'-') {
          if (eat(U'-')) {
            on = false;
          } else {
            ++pos_;
            caseless = on;
          }
        }
        if (!eat(U':')) unsupported("this group flag");
      } else if (c == U'<' && (peek(1) == U'=' || peek(1) == U'!')) {
        unsupported("lookbehind");
      } else {
        unsupported("the group '(?" + to_utf8(std::u32string(1, c)) + "'");
      }
    }
    const int inner = parse_alternation(caseless);
    if (!eat(U')')) fail("missing ')'");
    if (kind == Node::Concat) return inner;
    Node n;
    n.kind = kind;
    n.child = inner;
    n.negative = negative;
    return add(std::move(n));
  }

  static bool is_cased_letter(char32_t c) {
    const auto g = general_category(c);
    return g == GeneralCategory::Lu || g == GeneralCategory::Ll || g == GeneralCategory::Lt;
  }

  // Case folding is implemented for ASCII letters only; refuse what would
  // need more rather than match differently from Oniguruma.
  void check_caseless(const Node& n) const {
    if (!n.caseless) return;
    for (const auto& item : n.items) {
      if (item.kind != ClassItem::Range || item.hi < 0x80) continue;
      for (char32_t c = std::max<char32_t>(item.lo, 0x80); c <= item.hi; ++c) {
        if (is_cased_letter(c)) unsupported("case-insensitive matching of non-ASCII letters");
      }
    }
  }

  int parse_class(bool caseless) {
    ++pos_;  // '['
    Node n;
    n.caseless = caseless;
    n.negated = eat(U'^');
    bool first = true;
    while (true) {
      if (at_end()) fail("missing ']'");
      char32_t c = peek();
      if (c == U']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == U'[') unsupported("a nested class or POSIX bracket");
      if (c == U'&' && peek(1) == U'&') unsupported("class intersection '&&'");
      ClassItem item;
      if (c == U'\\') {
        item = parse_escape(true);
      } else {
        ++pos_;
        item = ClassItem{ClassItem::Range, false, c, c};
      }
      // A range a-b; '-' first or last is a literal.
      if (item.kind == ClassItem::Range && item.lo == item.hi && peek() == U'-' &&
          peek(1) != U']' && peek(1) != 0) {
        ++pos_;
        ClassItem hi_item;
        if (peek() == U'\\') {
          hi_item = parse_escape(true);
        } else {
          hi_item = ClassItem{ClassItem::Range, false, peek(), peek()};
          ++pos_;
        }
        if (hi_item.kind != ClassItem::Range || hi_item.lo != hi_item.hi) {
          fail("a class range must end with a single character");
        }
        if (hi_item.lo < item.lo) fail("a class range out of order");
        item.hi = hi_item.lo;
      }
      n.items.push_back(item);
    }
    check_caseless(n);
    return add(std::move(n));
  }

  uint32_t hex_digits(size_t min_count, size_t max_count) {
    uint32_t v = 0;
    size_t count = 0;
    while (count < max_count && !at_end()) {
      const char32_t c = peek();
      int d;
      if (c >= U'0' && c <= U'9') {
        d = static_cast<int>(c - U'0');
      } else if ((c | 0x20) >= U'a' && (c | 0x20) <= U'f') {
        d = static_cast<int>((c | 0x20) - U'a' + 10);
      } else {
        break;
      }
      v = v * 16 + static_cast<uint32_t>(d);
      if (v > 0x10FFFF) fail("a code point past U+10FFFF");
      ++pos_;
      ++count;
    }
    if (count < min_count) fail("a malformed hexadecimal escape");
    return v;
  }

  ClassItem categories(std::string_view name, bool negated) {
    using G = GeneralCategory;
    struct Group {
      std::string_view name;
      G lo, hi;
    };
    static constexpr Group kGroups[] = {
        {"L", G::Lu, G::Lo},  {"M", G::Mn, G::Me},  {"N", G::Nd, G::No},  {"P", G::Pc, G::Po},
        {"S", G::Sm, G::So},  {"Z", G::Zs, G::Zp},  {"C", G::Cc, G::Cn},  {"Lu", G::Lu, G::Lu},
        {"Ll", G::Ll, G::Ll}, {"Lt", G::Lt, G::Lt}, {"Lm", G::Lm, G::Lm}, {"Lo", G::Lo, G::Lo},
        {"Mn", G::Mn, G::Mn}, {"Mc", G::Mc, G::Mc}, {"Me", G::Me, G::Me}, {"Nd", G::Nd, G::Nd},
        {"Nl", G::Nl, G::Nl}, {"No", G::No, G::No}, {"Pc", G::Pc, G::Pc}, {"Pd", G::Pd, G::Pd},
        {"Ps", G::Ps, G::Ps}, {"Pe", G::Pe, G::Pe}, {"Pi", G::Pi, G::Pi}, {"Pf", G::Pf, G::Pf},
        {"Po", G::Po, G::Po}, {"Sm", G::Sm, G::Sm}, {"Sc", G::Sc, G::Sc}, {"Sk", G::Sk, G::Sk},
        {"So", G::So, G::So}, {"Zs", G::Zs, G::Zs}, {"Zl", G::Zl, G::Zl}, {"Zp", G::Zp, G::Zp},
        {"Cc", G::Cc, G::Cc}, {"Cf", G::Cf, G::Cf}, {"Cs", G::Cs, G::Cs}, {"Co", G::Co, G::Co},
        {"Cn", G::Cn, G::Cn}};
    for (const auto& g : kGroups) {
      if (g.name == name) {
        return ClassItem{ClassItem::Categories, negated, static_cast<char32_t>(g.lo),
                         static_cast<char32_t>(g.hi)};
      }
    }
    unsupported("the property \\p{" + std::string(name) + "} (general categories only)");
  }

  ClassItem parse_escape(bool in_class) {
    ++pos_;  // '\'
    if (at_end()) fail("a trailing '\\'");
    const char32_t c = text_[pos_++];
    auto lit = [](char32_t v) { return ClassItem{ClassItem::Range, false, v, v}; };
    switch (c) {
      case U't':
        return lit(U'\t');
      case U'n':
        return lit(U'\n');
      case U'r':
        return lit(U'\r');
      case U'f':
        return lit(U'\f');
      case U'v':
        return lit(U'\v');
      case U'a':
        return lit(0x07);
      case U'e':
        return lit(0x1B);
      case U'x':
        if (eat(U'{')) {
          const uint32_t v = hex_digits(1, 8);
          if (!eat(U'}')) fail("a malformed \\x{...}");
          return lit(v);
        }
        return lit(hex_digits(1, 2));
      case U'u':
        return lit(hex_digits(4, 4));
      case U's':
        return ClassItem{ClassItem::Space, false, 0, 0};
      case U'S':
        return ClassItem{ClassItem::Space, true, 0, 0};
      case U'w':
        return ClassItem{ClassItem::Word, false, 0, 0};
      case U'W':
        return ClassItem{ClassItem::Word, true, 0, 0};
      case U'd':
        return categories("Nd", false);
      case U'D':
        return categories("Nd", true);
      case U'p':
      case U'P': {
        if (!eat(U'{')) fail("\\p without {...}");
        bool negated = c == U'P';
        if (eat(U'^')) negated = !negated;
        std::string name;
        while (!at_end() && peek() != U'}') name += static_cast<char>(text_[pos_++] & 0x7F);
        if (!eat(U'}')) fail("a malformed \\p{...}");
        return categories(name, negated);
      }
      default:
        break;
    }
    if (c < 0x80 && ((c >= U'0' && c <= U'9') || ((c | 0x20) >= U'a' && (c | 0x20) <= U'z'))) {
      --pos_;
      unsupported(std::string("the escape '\\") + static_cast<char>(c) + "'" +
                  (in_class ? " in a class" : ""));
    }
    return lit(c);  // escaped punctuation (or any non-alphanumeric) is itself
  }
};

Regex::Regex(std::string_view pattern) : source_(pattern) {
  RegexParser parser(pattern, *this);
  parser.parse();
}

}  // namespace cocktail::tok
