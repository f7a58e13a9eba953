#include "tokenizer/json.hpp"

#include "core/error.hpp"

namespace cocktail::tok {

void JsonAt::fail(const std::string& what) const { throw Error(file + ": " + path + ": " + what); }

std::string component_type(const json& j, const JsonAt& at) {
  if (!j.is_object()) at.fail("expected an object");
  const auto it = j.find("type");
  if (it == j.end() || !it->is_string()) at.fail("has no \"type\" string");
  return it->get<std::string>();
}

void unsupported_type(const JsonAt& at, const std::string& type, std::string_view supported) {
  throw Error(at.file + ": " + at.path + " type '" + type +
              "' is not supported (supported: " + std::string(supported) + ")");
}

const json& required(const json& obj, std::string_view key, const JsonAt& at) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) at.fail("missing \"" + std::string(key) + "\"");
  return *it;
}

bool optional_bool(const json& obj, std::string_view key, bool fallback, const JsonAt& at) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) at[key].fail("expected true or false");
  return it->get<bool>();
}

std::optional<std::string> optional_string(const json& obj, std::string_view key,
                                           const JsonAt& at) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) at[key].fail("expected a string");
  return it->get<std::string>();
}

std::string required_string(const json& obj, std::string_view key, const JsonAt& at) {
  const json& v = required(obj, key, at);
  if (!v.is_string()) at[key].fail("expected a string");
  return v.get<std::string>();
}

uint32_t required_id(const json& value, const JsonAt& at) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() > UINT32_MAX) {
    at.fail("expected a token id (an integer from 0 to 4294967295)");
  }
  return static_cast<uint32_t>(value.get<uint64_t>());
}

}  // namespace cocktail::tok
