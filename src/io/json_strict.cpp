#include "io/json_strict.hpp"

#include <cstdio>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "core/utf8.hpp"

namespace cocktail {

using nlohmann::json;

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  char32_t cp;
  for (size_t i = 0, len; i < text.size(); i += len)
    if ((len = next_code_point(text, i, cp)) == 0) return i;
  return std::nullopt;
}

std::string quote_name(std::string_view s) {
  std::string out = "'";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "'";
}

json parse_strict_json(std::string_view text, const std::string& label,
                       const std::string& what) {
  if (auto bad = find_invalid_utf8(text)) {
    throw Error(label + ": " + what + " is not valid UTF-8 (bad byte at offset " +
                std::to_string(*bad) + ")");
  }
  // nlohmann stops at a NUL byte as if the input ended there, which would
  // accept "{}\0<anything>"; raw NUL is never valid JSON.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) {
    throw Error(label + ": " + what + " is not valid JSON: NUL byte at offset " +
                std::to_string(nul));
  }
  // nlohmann keeps the last of duplicate keys without a word; a checkpoint
  // whose two readers could disagree on a tensor's offsets must be refused.
  struct Scope {
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<Scope> scopes;
  const json::parser_callback_t depth_limit = json_depth_limit<json>(label, what);
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    depth_limit(depth, event, parsed);
    switch (event) {
      case json::parse_event_t::object_start:
        scopes.emplace_back();
        break;
      case json::parse_event_t::object_end:
        scopes.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        Scope& scope = scopes.back();
        if (!scope.keys.insert(key).second) {
          std::string where;
          if (scopes.size() > 1) where = " inside " + quote_name(scopes[scopes.size() - 2].last_key);
          throw Error(label + ": " + what + " has duplicate key " + quote_name(key) + where);
        }
        scope.last_key = key;
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {  // parse_error; out_of_range for 1e400
    std::string detail = e.what();
    if (auto p = detail.find("] "); p != std::string::npos) detail.erase(0, p + 2);
    throw Error(label + ": " + what + " is not valid JSON: " + detail);
  }
}

// ---- safetensors header -----------------------------------------------------

}  // namespace cocktail
