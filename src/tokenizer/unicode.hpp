#pragma once
// Internal to the tokenizer: the character properties and transformations
// tokenizers applies, each as that library's own component sees it (they do
// not all use the same Unicode version; tokenizer_unicode_data.cpp says which).
#include <string>

#include "tokenizer/text.hpp"
#include "tokenizer/unicode_data.hpp"

namespace cocktail::tok {

using unicode_data::GeneralCategory;

// General category as the regex engine (Oniguruma, Unicode 16.0) sees it.
GeneralCategory general_category(char32_t c);
bool is_letter(char32_t c);  // \p{L}
bool is_number(char32_t c);  // \p{N}
// The White_Space property: Oniguruma's \s, Rust's char::is_whitespace and
// Rust regex's \s agree on these 25 code points.
bool is_white_space(char32_t c);
// Oniguruma's \w, in Split patterns.
bool is_regex_word_char(char32_t c);
// The Rust regex crate's \w, which an added token's single_word and the
// Whitespace pre-tokenizer use: it differs from Oniguruma's on a few code
// points (the Latin-1 superscripts and fractions, the zero-width joiners).
bool is_rust_word_char(char32_t c);

// BertNormalizer / BertPreTokenizer's views (an older category table).
bool is_bert_control(char32_t c);          // clean_text removes it
bool is_bert_punctuation(char32_t c);      // isolated by BertPreTokenizer
bool is_bert_nonspacing_mark(char32_t c);  // strip_accents removes it
bool is_chinese_char(char32_t c);          // handle_chinese_chars spaces it

// Rust's char::to_lowercase, appended to out (U+0130 gives two code points).
void append_lowercase(char32_t c, std::u32string& out);

// Non-ASCII code points that Oniguruma's (?i:x) matches for an ASCII letter
// (U+017F for s, U+212A for k): calls f(c) for each.
template <class F>
void for_each_caseless_extra(char32_t ascii_lower, F f) {
  for (size_t i = 0; i < unicode_data::kCaselessAsciiCount; ++i) {
    if (unicode_data::kCaselessAscii[i].from == ascii_lower) f(unicode_data::kCaselessAscii[i].to);
  }
}
// The ASCII letter (lowercase) that c matches case-insensitively, or 0.
char32_t caseless_ascii_letter(char32_t c);

// Canonical decomposition (NFD) and composition (NFC) in place, with the
// normalization crate tokenizers uses; origins follow their characters.
void nfd(Piece& text);
void nfc(Piece& text);

}  // namespace cocktail::tok
