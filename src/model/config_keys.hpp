#pragma once
// Reading one key of a model's config.json as transformers' config classes
// do: an absent or null key takes the class's default, a present one must
// have the right type. Errors name the file and the key.
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace cocktail::config_keys {

inline bool has(const nlohmann::json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

inline int64_t int_at_least(const nlohmann::json& j, const char* key, const std::string& label, int64_t minimum,
                            std::optional<int64_t> fallback = std::nullopt) {
  if (!has(j, key)) {
    if (fallback) return *fallback;
    throw Error(label + ": missing \"" + key + "\"");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() < minimum)
    throw Error(label + ": \"" + key + "\" is not an integer >= " + std::to_string(minimum));
  return j[key].get<int64_t>();
}

// A string, number (double) or boolean key; `what` says the type in the
// error ("a string", "a number", "true or false").
template <typename T>
T value_or(const nlohmann::json& j, const char* key, const std::string& label, const char* what, T fallback) {
  if (!has(j, key)) return fallback;
  const nlohmann::json& v = j[key];
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_same_v<T, double>) ok = v.is_number();
  else ok = v.is_string();
  if (!ok) throw Error(label + ": \"" + key + "\" is not " + what);
  return v.get<T>();
}

}  // namespace cocktail::config_keys
