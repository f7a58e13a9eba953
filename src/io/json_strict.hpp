#pragma once
// JSON parsing for files we do not trust (safetensors headers, shard
// indexes, config.json, tokenizer.json). Stricter than nlohmann's
// defaults, which accept duplicate keys by silently keeping the last one and
// any depth of nesting.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace cocktail {

// Arrays and objects nest at most this deep in the JSON we read. Parsing does
// not recurse, but dump() and other walks of the result do: a few hundred KB
// of nested brackets overflowed the stack. serde_json, the reference
// safetensors reader, stops at 128 levels too.
inline constexpr int kMaxJsonDepth = 128;

// Throws cocktail::Error "LABEL: WHAT nests arrays and objects deeper than
// 128 levels" when `text` opens an array or object inside 128 others
// (outside strings). A linear scan before Json::parse, which is linear
// without a callback: nlohmann's callback parser rescans the enclosing
// object or array each time a nested one ends, quadratic in the entries.
inline void check_json_depth(std::string_view text, const std::string& label, const std::string& what) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (depth >= static_cast<size_t>(kMaxJsonDepth))
        throw Error(label + ": " + what + " nests arrays and objects deeper than " +
                    std::to_string(kMaxJsonDepth) + " levels");
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

// Offset of the first byte that is not part of well-formed UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF included), or nullopt.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// Parses `text` as UTF-8 JSON with no duplicate keys in any object and arrays
// and objects nested at most kMaxJsonDepth deep. Throws cocktail::Error
// starting with `label` (`what` names the text, e.g. "header").
nlohmann::json parse_strict_json(std::string_view text, const std::string& label,
                                 const std::string& what);
// The same, keeping every object's keys in file order (tokenizer.json, whose
// vocabulary is written back in the order it was read).
nlohmann::ordered_json parse_strict_ordered_json(std::string_view text, const std::string& label,
                                                 const std::string& what);

// `s` in single quotes, control bytes escaped so a message stays one line.
std::string quote_name(std::string_view s);

}  // namespace cocktail
