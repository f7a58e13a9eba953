#pragma once
// Internal to the tokenizer: the split patterns tokenizer.json files carry
// (GPT-2's, Llama 3's, Qwen2's and any other), run on Oniguruma, the regex
// engine of the `tokenizers` library, with its default syntax and UTF-8.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cocktail::tok {

class Regex {
 public:
  // Throws cocktail::Error "regex '<pattern>': <Oniguruma's message>" when the
  // pattern does not compile.
  explicit Regex(std::string_view pattern);

  // tokenizers' Pattern::find_matches: the text cut into consecutive spans of
  // code points, each flagged true when it is a match (the onig crate's
  // find_iter, which skips an empty match right after the previous match). An
  // empty text gives one empty non-match.
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> find_matches(
      std::u32string_view text) const;

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;  // immutable once built, so copies share it
};

}  // namespace cocktail::tok
