#pragma once
// Internal to the tokenizer: the Unicode tables of tokenizer_unicode_data.cpp,
// generated from the `tokenizers` library itself (see that file). Only
// tokenizer_unicode.cpp reads them.
#include <cstddef>
#include <cstdint>

namespace cocktail::unicode_data {

// clang-format off
enum class GeneralCategory : uint8_t {
  Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po,
  Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co, Cn
};
// clang-format on

// Category of every code point from `first` up to the next run's first.
struct CategoryRun {
  char32_t first;
  GeneralCategory category;
};
struct CodeRange {
  char32_t first, last;  // inclusive
};
struct CaseMapping {
  char32_t from, to;
};
struct CombiningClassRange {
  char32_t first, last;
  uint8_t combining_class;
};
// One level of a canonical decomposition; second is 0 for a singleton.
struct Decomposition {
  char32_t code_point, first, second;
};
struct Composition {
  char32_t first, second, composed;
};

// All sorted by their first field.
extern const CategoryRun kCategoryRuns[];  // Oniguruma's \p{..} (Unicode 16.0)
extern const size_t kCategoryRunCount;
extern const CodeRange kBertControl[];  // removed by BertNormalizer clean_text
extern const size_t kBertControlCount;
extern const CodeRange kBertPunctuation[];  // isolated by BertPreTokenizer
extern const size_t kBertPunctuationCount;
extern const CodeRange kBertNonspacingMark[];  // removed by strip_accents
extern const size_t kBertNonspacingMarkCount;
extern const CodeRange kChineseChar[];  // spaced by handle_chinese_chars
extern const size_t kChineseCharCount;
extern const CodeRange kRegexWordChar[];  // Oniguruma's \w
extern const size_t kRegexWordCharCount;
extern const CodeRange kRustWordChar[];  // Rust regex \w (single_word, Whitespace)
extern const size_t kRustWordCharCount;
extern const CaseMapping kLowercase[];  // Rust char::to_lowercase, one-char results
extern const size_t kLowercaseCount;
extern const CaseMapping kCaselessAscii[];  // non-ASCII matches of (?i:ascii letter)
extern const size_t kCaselessAsciiCount;
extern const CombiningClassRange kCombiningClass[];  // as the NFD/NFC crate knows them
extern const size_t kCombiningClassCount;
extern const Decomposition kDecomposition[];  // Hangul syllables excluded (algorithmic)
extern const size_t kDecompositionCount;
extern const Composition kComposition[];  // sorted by (first, second)
extern const size_t kCompositionCount;

}  // namespace cocktail::unicode_data
