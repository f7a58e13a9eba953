#pragma once
// A method parameter as the YAML wrote it, resolved per tensor by the method
// that declares it (src/merge/methods/). mergekit's forms:
//   weight: 0.5                              a value
//   weight: [0, 0.5, 1]                      a gradient over the layers
//   weight: [{filter: self_attn, value: 0.3}, {value: 0.5}]
//                                            the first condition whose filter is a
//                                            substring of the tensor name (none = any)
// The parser keeps values as text: only the method knows their type.
#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace cocktail {

struct SettingValue {
  std::vector<std::string> items;  // one for a plain value, several for a gradient
  bool gradient = false;           // written as a list
  std::string where;               // "FILE:LINE: key 'K'", the start of every message about it
};

struct SettingCondition {
  std::optional<std::string> filter;  // none, or "*": matches every tensor
  SettingValue value;
};

struct Setting {
  std::string name;
  std::string where;
  bool conditional = false;  // written with filter/value mappings
  std::vector<SettingCondition> conditions;  // a plain value or gradient is one unfiltered condition
};

// A `parameters` mapping, in file order.
using Settings = std::vector<Setting>;

inline const Setting* find_setting(const Settings& s, const std::string& name) {
  for (const Setting& x : s)
    if (x.name == name) return &x;
  return nullptr;
}

// The shortest text that parses back to the same double ("0.1").
inline std::string exact_number_text(double v) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return std::string(text, end);
}

// A parameter set by cocktail rather than written (few-shot weights, a
// searched density), as the parser keeps a written one.
inline Setting plain_setting(const std::string& name, const std::string& value, const std::string& where) {
  Setting s;
  s.name = name;
  s.where = where;
  s.conditions.push_back({std::nullopt, {{value}, false, where}});
  return s;
}

// Replaces every setting called `name` by one plain value: the resolver
// takes the first match, so a value set beside a written one would be
// ignored or shadowed depending on order.
inline void set_plain_setting(Settings& s, const std::string& name, double value, const std::string& where) {
  std::erase_if(s, [&](const Setting& x) { return x.name == name; });
  s.push_back(plain_setting(name, exact_number_text(value), where));
}

}  // namespace cocktail
