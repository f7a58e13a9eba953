#include "tokenizer/unicode.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "core/error.hpp"

// Every property comes from ICU. tokenizers' components were built against
// different Unicode versions, so where one is older than ICU's data, a code
// point newer than that component answers as unassigned; the few whose
// category changed since are listed by hand. docs/fewshot.md gives the
// measurement behind each version below.
namespace cocktail::tok {

namespace {

// Unicode version as ICU's u_charAge gives it, as major * 100 + minor * 10.
int age(char32_t c) {
  UVersionInfo v;
  u_charAge(static_cast<UChar32>(c), v);
  return v[0] * 100 + v[1] * 10 + v[2];
}
bool assigned_by(char32_t c, int version) {
  const int a = age(c);
  return a != 0 && a <= version;
}

// The unicode_categories crate behind BertNormalizer and BertPreTokenizer has
// Unicode 8.0's categories.
constexpr int kBertVersion = 800;
// The normalization crate behind NFD/NFC: combining classes of Unicode 9.0,
// decompositions up to Unicode 12.1.
constexpr int kCombiningClassVersion = 900;
constexpr int kDecompositionVersion = 1210;

// Categories that changed after Unicode 8.0, as the BERT components still
// see them.
int8_t bert_category(char32_t c) {
  switch (c) {
    case 0x166D: return U_OTHER_PUNCTUATION;    // So since 12.0
    case 0x111C9: return U_OTHER_PUNCTUATION;   // Mn since 11.0
    case 0x1734: return U_NON_SPACING_MARK;     // Mc since 14.0
    case 0x1885:
    case 0x1886: return U_OTHER_LETTER;         // Mn since 9.0
    case 0xA9BD: return U_COMBINING_SPACING_MARK;  // Mn since 12.0
    default: break;
  }
  return assigned_by(c, kBertVersion) ? u_charType(static_cast<UChar32>(c))
                                      : static_cast<int8_t>(U_UNASSIGNED);
}

// ICU's NFC / NFD singletons, looked up once: they are asked per character.
const icu::Normalizer2& lookup_normalizer(bool compose) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = compose ? icu::Normalizer2::getNFCInstance(status)
                                      : icu::Normalizer2::getNFDInstance(status);
  if (U_FAILURE(status)) throw Error(std::string("ICU normalizer: ") + u_errorName(status));
  return *n;
}

const icu::Normalizer2& normalizer(bool compose) {
  static const icu::Normalizer2& nfc = lookup_normalizer(true);
  static const icu::Normalizer2& nfd = lookup_normalizer(false);
  return compose ? nfc : nfd;
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300 || !assigned_by(c, kCombiningClassVersion)) return 0;
  return normalizer(false).getCombiningClass(static_cast<UChar32>(c));
}

void decompose(char32_t c, size_t from, Piece& out) {
  icu::UnicodeString raw;
  if (c >= 0xC0 && assigned_by(c, kDecompositionVersion) &&
      normalizer(false).getRawDecomposition(static_cast<UChar32>(c), raw)) {
    for (int32_t i = 0; i < raw.length();) {
      const UChar32 part = raw.char32At(i);
      decompose(static_cast<char32_t>(part), from, out);
      i += U16_LENGTH(part);
    }
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

char32_t compose_pair(char32_t a, char32_t b) {
  const UChar32 c = normalizer(true).composePair(static_cast<UChar32>(a), static_cast<UChar32>(b));
  return c < 0 || !assigned_by(static_cast<char32_t>(c), kDecompositionVersion)
             ? 0
             : static_cast<char32_t>(c);
}

bool is_punctuation_category(int8_t t) {
  return t == U_CONNECTOR_PUNCTUATION || t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION ||
         t == U_END_PUNCTUATION || t == U_INITIAL_PUNCTUATION || t == U_FINAL_PUNCTUATION ||
         t == U_OTHER_PUNCTUATION;
}

}  // namespace

bool is_white_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_rust_word_char(char32_t c) {
  const auto u = static_cast<UChar32>(c);
  const int8_t t = u_charType(u);
  return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || t == U_NON_SPACING_MARK ||
         t == U_COMBINING_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_DECIMAL_DIGIT_NUMBER ||
         t == U_CONNECTOR_PUNCTUATION || u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL);
}

bool is_bert_control(char32_t c) {
  if (c == 0 || c == 0xFFFD) return true;
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  const int8_t t = bert_category(c);
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_PRIVATE_USE_CHAR;
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                       (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
  return is_punctuation_category(bert_category(c));
}

bool is_bert_nonspacing_mark(char32_t c) { return bert_category(c) == U_NON_SPACING_MARK; }

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c == 0x130) {  // the one multi-character lowercase mapping (SpecialCasing.txt)
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
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
