#pragma once
// Internal to the tokenizer: text between the steps of the pipeline.
//
// tokenizers keeps, for every byte of the text being normalised, the span of
// the input it came from ("alignments"). Ids depend on that in one place only:
// Metaspace's prepend_scheme "first" asks whether a piece begins at input
// offset 0. So a piece keeps, per code point, the input offset of the character
// it came from, and every transformation passes it on as tokenizers does.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cocktail::tok {

struct Piece {
  std::u32string chars;
  std::vector<size_t> origin;  // same length as chars

  void push(char32_t c, size_t from) {
    chars.push_back(c);
    origin.push_back(from);
  }
  bool empty() const { return chars.empty(); }
  size_t size() const { return chars.size(); }
  // tokenizers' offsets_original().0 == 0 for a non-empty slice.
  bool starts_input() const { return !chars.empty() && origin.front() == 0; }
  Piece slice(size_t begin, size_t end) const {
    Piece p;
    p.chars.assign(chars, begin, end - begin);
    p.origin.assign(origin.begin() + static_cast<std::ptrdiff_t>(begin),
                    origin.begin() + static_cast<std::ptrdiff_t>(end));
    return p;
  }
};

// The input as code points, each with its byte offset. Throws cocktail::Error
// at the first byte that is not well-formed UTF-8.
Piece decode_input(std::string_view utf8);

// Code points of a string read from tokenizer.json (nlohmann already checked
// it is UTF-8).
std::u32string decode_utf8(std::string_view utf8);

void append_utf8(std::string& out, char32_t c);
std::string to_utf8(std::u32string_view text);

}  // namespace cocktail::tok
