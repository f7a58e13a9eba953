#pragma once
// Internal to the tokenizer: reading tokenizer.json components with errors
// that name the file and where in it the bad value sits.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cocktail::tok {

using nlohmann::json;

// A place in tokenizer.json: `file` and a path like "pre_tokenizer.pretokenizers[1]".
struct JsonAt {
  std::string file;
  std::string path;

  JsonAt operator[](std::string_view key) const { return {file, path + "." + std::string(key)}; }
  JsonAt item(size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
  // Throws cocktail::Error "<file>: <path>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
};

// The "type" of a component object.
std::string component_type(const json& j, const JsonAt& at);
// "<file>: <path> type 'X' is not supported (supported: ...)".
[[noreturn]] void unsupported_type(const JsonAt& at, const std::string& type,
                                   std::string_view supported);

// Typed members; a missing or null optional member gives the default.
const json& required(const json& obj, std::string_view key, const JsonAt& at);
bool optional_bool(const json& obj, std::string_view key, bool fallback, const JsonAt& at);
std::optional<std::string> optional_string(const json& obj, std::string_view key, const JsonAt& at);
std::string required_string(const json& obj, std::string_view key, const JsonAt& at);
uint32_t required_id(const json& value, const JsonAt& at);  // a token id (u32)

}  // namespace cocktail::tok
