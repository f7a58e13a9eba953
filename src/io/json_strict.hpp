#pragma once
// Internal to cocktail_io: JSON parsing for files we do not trust
// (safetensors headers, shard indexes). Stricter than nlohmann's defaults,
// which accept duplicate keys by silently keeping the last one.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cocktail {

// Offset of the first byte that is not part of well-formed UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF included), or nullopt.
std::optional<size_t> find_invalid_utf8(std::string_view text);

// Parses `text` as UTF-8 JSON with no duplicate keys in any object. Throws
// cocktail::Error starting with `label` (`what` names the text, e.g. "header").
nlohmann::json parse_strict_json(std::string_view text, const std::string& label,
                                 const std::string& what);

// `s` in single quotes, control bytes escaped so a message stays one line.
std::string quote_name(std::string_view s);

}  // namespace cocktail
