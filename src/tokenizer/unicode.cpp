#include "tokenizer/unicode.hpp"

#include <algorithm>

namespace cocktail::tok {

namespace ud = unicode_data;

namespace {

bool in_ranges(const ud::CodeRange* table, size_t count, char32_t c) {
  const auto* end = table + count;
  const auto* it = std::upper_bound(table, end, c,
                                    [](char32_t v, const ud::CodeRange& r) { return v < r.first; });
  return it != table && c <= (it - 1)->last;
}

// Hangul syllables compose and decompose by arithmetic (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

uint8_t combining_class(char32_t c) {
  const auto* end = ud::kCombiningClass + ud::kCombiningClassCount;
  const auto* it =
      std::upper_bound(ud::kCombiningClass, end, c,
                       [](char32_t v, const ud::CombiningClassRange& r) { return v < r.first; });
  if (it == ud::kCombiningClass || c > (it - 1)->last) return 0;
  return (it - 1)->combining_class;
}

const ud::Decomposition* find_decomposition(char32_t c) {
  const auto* end = ud::kDecomposition + ud::kDecompositionCount;
  const auto* it =
      std::lower_bound(ud::kDecomposition, end, c,
                       [](const ud::Decomposition& d, char32_t v) { return d.code_point < v; });
  return it != end && it->code_point == c ? it : nullptr;
}

void decompose(char32_t c, size_t from, Piece& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out.push(kLBase + s / kNCount, from);
    out.push(kVBase + (s % kNCount) / kTCount, from);
    if (s % kTCount != 0) out.push(kTBase + s % kTCount, from);
    return;
  }
  if (const auto* d = find_decomposition(c)) {
    decompose(d->first, from, out);
    if (d->second != 0) decompose(d->second, from, out);
    return;
  }
  out.push(c, from);
}

// Stable sort of each run of non-starters by combining class (canonical order).
void reorder(Piece& text) {
  const size_t n = text.size();
  for (size_t i = 1; i < n; ++i) {
    const uint8_t cc = combining_class(text.chars[i]);
    if (cc == 0) continue;
    size_t j = i;
    while (j > 0) {
      const uint8_t prev = combining_class(text.chars[j - 1]);
      if (prev == 0 || prev <= cc) break;
      std::swap(text.chars[j - 1], text.chars[j]);
      std::swap(text.origin[j - 1], text.origin[j]);
      --j;
    }
  }
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto* end = ud::kComposition + ud::kCompositionCount;
  const auto* it = std::lower_bound(ud::kComposition, end, std::pair{a, b},
                                    [](const ud::Composition& c, std::pair<char32_t, char32_t> v) {
                                      return std::pair{c.first, c.second} < v;
                                    });
  return it != end && it->first == a && it->second == b ? it->composed : 0;
}

}  // namespace

GeneralCategory general_category(char32_t c) {
  const auto* end = ud::kCategoryRuns + ud::kCategoryRunCount;
  const auto* it = std::upper_bound(
      ud::kCategoryRuns, end, c, [](char32_t v, const ud::CategoryRun& r) { return v < r.first; });
  return it == ud::kCategoryRuns ? GeneralCategory::Cn : (it - 1)->category;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return general_category(c) <= GeneralCategory::Lo;
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto g = general_category(c);
  return g >= GeneralCategory::Nd && g <= GeneralCategory::No;
}

bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_regex_word_char(char32_t c) {
  return in_ranges(ud::kRegexWordChar, ud::kRegexWordCharCount, c);
}
bool is_rust_word_char(char32_t c) {
  return in_ranges(ud::kRustWordChar, ud::kRustWordCharCount, c);
}
bool is_bert_control(char32_t c) { return in_ranges(ud::kBertControl, ud::kBertControlCount, c); }
bool is_bert_punctuation(char32_t c) {
  return in_ranges(ud::kBertPunctuation, ud::kBertPunctuationCount, c);
}
bool is_bert_nonspacing_mark(char32_t c) {
  return in_ranges(ud::kBertNonspacingMark, ud::kBertNonspacingMarkCount, c);
}
bool is_chinese_char(char32_t c) { return in_ranges(ud::kChineseChar, ud::kChineseCharCount, c); }

void append_lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  if (c == 0x130) {  // the one multi-character lowercase mapping (SpecialCasing.txt)
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  const auto* end = ud::kLowercase + ud::kLowercaseCount;
  const auto* it = std::lower_bound(
      ud::kLowercase, end, c, [](const ud::CaseMapping& m, char32_t v) { return m.from < v; });
  out.push_back(it != end && it->from == c ? it->to : c);
}

char32_t caseless_ascii_letter(char32_t c) {
  if (c < 0x80) {
    const char32_t l = c | 0x20;
    return l >= 'a' && l <= 'z' ? l : 0;
  }
  for (size_t i = 0; i < ud::kCaselessAsciiCount; ++i) {
    if (ud::kCaselessAscii[i].to == c) return ud::kCaselessAscii[i].from;
  }
  return 0;
}

void nfd(Piece& text) {
  Piece out;
  out.chars.reserve(text.size());
  out.origin.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) decompose(text.chars[i], text.origin[i], out);
  reorder(out);
  text = std::move(out);
}

// The canonical composition algorithm (Unicode 3.11, D117): each character
// composes with the last starter unless a character between them blocks it.
void nfc(Piece& text) {
  nfd(text);
  const size_t n = text.size();
  if (n == 0) return;
  size_t out = 0;             // write position
  size_t starter = SIZE_MAX;  // index (in the output) of the last starter
  int last_class = -1;        // class of the last character kept after the starter
  for (size_t i = 0; i < n; ++i) {
    const char32_t c = text.chars[i];
    const int cc = combining_class(c);
    if (starter != SIZE_MAX) {
      const bool blocked = last_class != -1 && (last_class == 0 || last_class >= cc);
      if (!blocked) {
        if (char32_t composed = compose_pair(text.chars[starter], c)) {
          text.chars[starter] = composed;
          continue;
        }
      }
    }
    if (cc == 0) {
      starter = out;
      last_class = -1;
    } else {
      last_class = cc;
    }
    text.chars[out] = c;
    text.origin[out] = text.origin[i];
    ++out;
  }
  text.chars.resize(out);
  text.origin.resize(out);
}

}  // namespace cocktail::tok
