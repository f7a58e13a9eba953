#pragma once
// Internal to the io folder: JSON parsing for files we do not trust
// (safetensors headers, shard indexes, config.json). Stricter than nlohmann's
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

// A callback for Json::parse (nlohmann::json or ordered_json) that throws
// cocktail::Error "LABEL: WHAT nests arrays and objects deeper than 128
// levels" before such a value is built.
template <class Json>
typename Json::parser_callback_t json_depth_limit(std::string label, std::string what) {
  return [label = std::move(label), what = std::move(what)](
             int depth, typename Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start ||
         event == Json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw Error(label + ": " + what + " nests arrays and objects deeper than " +
                  std::to_string(kMaxJsonDepth) + " levels");
    }
    return true;
  };
}

// Offset of the first byte that is not part of well-formed UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF included), or nullopt.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// Parses `text` as UTF-8 JSON with no duplicate keys in any object and arrays
// and objects nested at most kMaxJsonDepth deep. Throws cocktail::Error
// starting with `label` (`what` names the text, e.g. "header").
nlohmann::json parse_strict_json(std::string_view text, const std::string& label,
                                 const std::string& what);

// `s` in single quotes, control bytes escaped so a message stays one line.
std::string quote_name(std::string_view s);

}  // namespace cocktail
