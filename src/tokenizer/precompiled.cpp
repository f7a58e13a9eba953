// The Precompiled normalizer: sentencepiece's own normalisation rules (for
// XLM-R, T5 and every model converted from a sentencepiece file: nmt_nfkc,
// with its whitespace and control-character rules), carried in tokenizer.json
// as `precompiled_charsmap`, base64 of
//   u32 trie_size | darts-clone double-array trie (trie_size bytes) | replacements
// where the trie maps UTF-8 keys to offsets of NUL-terminated replacements.
//
// tokenizers applies it per extended grapheme cluster: a cluster shorter than
// six bytes is looked up whole and, when a key is a prefix of it, replaced by
// that key's replacement (the shortest such key, as sentencepiece's
// "first prefix"); otherwise each character is looked up alone.
#include <unicode/brkiter.h>
#include <unicode/unistr.h>

#include <memory>

#include "core/error.hpp"
#include "core/utf8.hpp"
#include "tokenizer/normalize.hpp"

namespace cocktail::tok {

namespace {

std::string base64_decode(std::string_view in, const JsonAt& at) {
  static const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t bits = 0;
  int count = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = value(in[i]);
    if (v < 0) at.fail("not base64 (byte " + std::to_string(i) + ")");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<char>(bits >> 16));
      out.push_back(static_cast<char>(bits >> 8));
      out.push_back(static_cast<char>(bits));
      bits = 0;
      count = 0;
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') at.fail("not base64 (byte " + std::to_string(i) + ")");
  }
  if (count == 1) at.fail("not base64 (truncated)");
  if (count == 2) out.push_back(static_cast<char>(bits >> 4));
  if (count == 3) {
    out.push_back(static_cast<char>(bits >> 10));
    out.push_back(static_cast<char>(bits >> 2));
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t c;
    const size_t len = next_code_point(s, i, c);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

class Precompiled final : public Normalizer {
 public:
  Precompiled(const json& j, const JsonAt& at) : at_(at["precompiled_charsmap"]) {
    const std::string blob = base64_decode(required_string(j, "precompiled_charsmap", at), at_);
    if (blob.size() < 4) at_.fail("shorter than its 4-byte trie size");
    const uint32_t trie_bytes = static_cast<uint32_t>(static_cast<unsigned char>(blob[0])) |
                                static_cast<uint32_t>(static_cast<unsigned char>(blob[1])) << 8 |
                                static_cast<uint32_t>(static_cast<unsigned char>(blob[2])) << 16 |
                                static_cast<uint32_t>(static_cast<unsigned char>(blob[3])) << 24;
    if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > blob.size() - 4) {
      at_.fail("trie size " + std::to_string(trie_bytes) + " does not fit the " +
               std::to_string(blob.size()) + "-byte charsmap");
    }
    units_.resize(trie_bytes / 4);
    for (size_t k = 0; k < units_.size(); ++k) {
      uint32_t u = 0;
      for (int b = 3; b >= 0; --b) u = u << 8 | static_cast<unsigned char>(blob[4 + k * 4 + b]);
      units_[k] = u;
    }
    replacements_ = blob.substr(4 + trie_bytes);
    if (!valid_utf8(replacements_)) at_.fail("its replacement strings are not UTF-8");
    UErrorCode status = U_ZERO_ERROR;
    graphemes_.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status)) at_.fail(std::string("ICU grapheme breaking: ") + u_errorName(status));
  }

  void normalize(Piece& text) const override {
    if (text.empty()) return;
    Piece out;
    out.chars.reserve(text.size());
    out.origin.reserve(text.size());
    const std::vector<size_t> bounds = grapheme_bounds(text.chars);
    std::string bytes;
    for (size_t g = 0; g + 1 < bounds.size(); ++g) {
      const size_t gs = bounds[g], ge = bounds[g + 1];
      bytes.clear();
      for (size_t i = gs; i < ge; ++i) append_utf8(bytes, text.chars[i]);
      if (bytes.size() < 6) {
        if (const auto r = replacement(bytes)) {
          for (char32_t c : decode_utf8(*r)) out.push(c, text.origin[gs]);
          continue;
        }
      }
      for (size_t i = gs; i < ge; ++i) {
        bytes.clear();
        append_utf8(bytes, text.chars[i]);
        if (const auto r = replacement(bytes)) {
          for (char32_t c : decode_utf8(*r)) out.push(c, text.origin[i]);
        } else {
          out.push(text.chars[i], text.origin[i]);
        }
      }
    }
    text = std::move(out);
  }

 private:
  // darts-clone's unit layout.
  static uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
  static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }

  uint32_t unit(size_t pos) const {
    if (pos >= units_.size()) at_.fail("its trie points past its end");
    return units_[pos];
  }

  // The replacement of the shortest key that is a prefix of `key`.
  std::optional<std::string_view> replacement(std::string_view key) const {
    size_t pos = offset(unit(0));
    for (char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == 0) return std::nullopt;
      pos ^= c;
      const uint32_t u = unit(pos);
      if (label(u) != c) return std::nullopt;
      pos ^= offset(u);
      if (has_leaf(u)) {
        const size_t at = value(unit(pos));
        if (at >= replacements_.size()) at_.fail("its trie points past its replacements");
        const size_t end = replacements_.find('\0', at);
        return std::string_view(replacements_).substr(at, end == std::string::npos ? end : end - at);
      }
    }
    return std::nullopt;
  }

  // Code point indices where the extended grapheme clusters of `chars` begin,
  // and its length.
  std::vector<size_t> grapheme_bounds(const std::u32string& chars) const {
    const icu::UnicodeString u16 = icu::UnicodeString::fromUTF32(
        reinterpret_cast<const UChar32*>(chars.data()), static_cast<int32_t>(chars.size()));
    std::vector<size_t> char_at(static_cast<size_t>(u16.length()) + 1, 0);
    for (size_t i = 0, k = 0; i < chars.size(); ++i) {
      char_at[k] = i;
      k += chars[i] >= 0x10000 ? 2 : 1;
    }
    char_at.back() = chars.size();
    // A clone per call: a break iterator holds its position, and one
    // tokenizer encodes from many threads.
    std::unique_ptr<icu::BreakIterator> it(graphemes_->clone());
    it->setText(u16);
    std::vector<size_t> bounds;
    for (int32_t b = it->first(); b != icu::BreakIterator::DONE; b = it->next()) {
      bounds.push_back(char_at[static_cast<size_t>(b)]);
    }
    return bounds;
  }

  JsonAt at_;
  std::vector<uint32_t> units_;
  std::string replacements_;
  std::unique_ptr<icu::BreakIterator> graphemes_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const json& config, const JsonAt& at) {
  return std::make_unique<Precompiled>(config, at);
}

}  // namespace cocktail::tok
