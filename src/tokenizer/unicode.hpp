#pragma once
// Internal to the tokenizer: the character properties and transformations
// tokenizers applies outside its regex engine, each as that library's own
// component sees it. They come from ICU; unicode.cpp says which Unicode
// version each component has and docs/fewshot.md how that was measured.
#include <string>

#include "tokenizer/text.hpp"

namespace cocktail::tok {

// The White_Space property (Rust's char::is_whitespace).
bool is_white_space(char32_t c);
// The Rust regex crate's \w, which an added token's single_word and the
// Whitespace pre-tokenizer use.
bool is_rust_word_char(char32_t c);

// BertNormalizer / BertPreTokenizer's views (Unicode 8.0's categories).
bool is_bert_control(char32_t c);          // clean_text removes it
bool is_bert_punctuation(char32_t c);      // isolated by BertPreTokenizer
bool is_bert_nonspacing_mark(char32_t c);  // strip_accents removes it (asked after NFD)
bool is_chinese_char(char32_t c);          // handle_chinese_chars spaces it

// Rust's char::to_lowercase, appended to out (U+0130 gives two code points).
void append_lowercase(char32_t c, std::u32string& out);

// Canonical decomposition (NFD) and composition (NFC) in place, as the
// normalization crate tokenizers uses; origins follow their characters.
void nfd(Piece& text);
void nfc(Piece& text);

}  // namespace cocktail::tok
