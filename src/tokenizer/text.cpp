#include "tokenizer/text.hpp"

#include "core/error.hpp"
#include "core/utf8.hpp"

namespace cocktail::tok {


Piece decode_input(std::string_view utf8) {
  Piece p;
  p.chars.reserve(utf8.size());
  p.origin.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    char32_t cp;
    const size_t len = next_code_point(utf8, i, cp);
    if (len == 0) {
      throw Error("tokenizer: text to encode is not valid UTF-8 (bad byte at offset " +
                  std::to_string(i) + ")");
    }
    p.push(cp, i);
    i += len;
  }
  return p;
}

std::u32string decode_utf8(std::string_view utf8) {
  std::u32string out;
  for (size_t i = 0; i < utf8.size();) {
    char32_t cp;
    size_t len = next_code_point(utf8, i, cp);
    if (len == 0) cp = 0xFFFD, len = 1;  // unreachable for strings nlohmann accepted
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

}  // namespace cocktail::tok
