#include "io/json_strict.hpp"

#include <cstdio>
#include <set>
#include <type_traits>
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

namespace {

// Builds the document from nlohmann's SAX events, refusing duplicate keys and
// deep nesting on the way. Not json::parse with a callback: nlohmann's
// callback parser scans the whole enclosing object or array for a discarded
// value each time a nested object ends, so a header of N tensor entries took
// N^2 / 2 steps (60,000 tensors: 32 s). Nor ordered_json::parse: it inserts
// each key after a linear search of the object, so a tokenizer's vocabulary
// of N tokens took N^2 / 2 string compares (32,000 tokens: 2 s; Llama 3's
// 128,000: half a minute). Here each event is O(1) apart from the O(log
// size) check of a key.
template <class Json>
class StrictDomBuilder {
  static constexpr bool kOrdered = std::is_same_v<Json, nlohmann::ordered_json>;

 public:
  StrictDomBuilder(Json& root, const std::string& label, const std::string& what)
      : root_(root), label_(label), what_(what) {}

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(typename Json::number_integer_t v) { return value(v); }
  bool number_unsigned(typename Json::number_unsigned_t v) { return value(v); }
  bool number_float(typename Json::number_float_t v, const typename Json::string_t&) { return value(v); }
  bool string(typename Json::string_t& v) { return value(std::move(v)); }
  bool binary(typename Json::binary_t& v) { return value(std::move(v)); }

  bool start_object(std::size_t) {
    check_depth();
    open(nlohmann::json::value_t::object);
    objects_.emplace_back();
    return true;
  }
  bool key(typename Json::string_t& k) {
    auto& object = containers_.back()->template get_ref<typename Json::object_t&>();
    Open& open = objects_.back();
    if constexpr (kOrdered) {
      // In file order, without ordered_map's search: the set says it is new.
      if (!open.keys.insert(k).second) duplicate(k);
      auto& items = static_cast<typename Json::object_t::Container&>(object);
      items.emplace_back(std::move(k), nullptr);
      open.key = &items.back().first;
      slot_ = &items.back().second;
    } else {
      auto [it, fresh] = object.emplace(std::move(k), nullptr);
      if (!fresh) duplicate(it->first);
      open.key = &it->first;  // map keys do not move
      slot_ = &it->second;
    }
    return true;
  }
  bool end_object() {
    containers_.pop_back();
    objects_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    check_depth();
    open(nlohmann::json::value_t::array);
    return true;
  }
  bool end_array() {
    containers_.pop_back();
    return true;
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    throw e;
  }

 private:
  struct Open {  // an object being read
    std::set<std::string> keys;    // ordered_json only: the keys so far
    const std::string* key = nullptr;  // the current one, for messages (its parent
                                       // does not grow while it is open)
  };

  [[noreturn]] void duplicate(const std::string& k) const {
    std::string where;
    if (objects_.size() > 1) where = " inside " + quote_name(*objects_[objects_.size() - 2].key);
    throw Error(label_ + ": " + what_ + " has duplicate key " + quote_name(k) + where);
  }

  // Same rule and message as check_json_depth: `containers_` counts the
  // arrays and objects open around the one starting.
  void check_depth() const {
    if (containers_.size() >= static_cast<size_t>(kMaxJsonDepth)) {
      throw Error(label_ + ": " + what_ + " nests arrays and objects deeper than " +
                  std::to_string(kMaxJsonDepth) + " levels");
    }
  }
  // Where the next value goes: the root, the end of the open array, or the
  // slot the last key made in the open object. A parent does not grow while
  // a child of it is open, so the pointers stay valid.
  Json* place(Json&& v) {
    if (containers_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& parent = *containers_.back();
    if (parent.is_array()) {
      auto& array = parent.template get_ref<typename Json::array_t&>();
      array.push_back(std::move(v));
      return &array.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  template <class T>
  bool value(T&& v) {
    place(Json(std::forward<T>(v)));
    return true;
  }
  void open(nlohmann::json::value_t type) { containers_.push_back(place(Json(type))); }

  Json& root_;
  const std::string& label_;
  const std::string& what_;
  std::vector<Json*> containers_;  // open arrays and objects, outermost first
  std::vector<Open> objects_;      // open objects, outermost first
  Json* slot_ = nullptr;
};

template <class Json>
Json parse_strict(std::string_view text, const std::string& label, const std::string& what) {
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
  Json root;
  StrictDomBuilder<Json> builder(root, label, what);
  try {
    Json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for 1e400
    std::string detail = e.what();
    if (auto p = detail.find("] "); p != std::string::npos) detail.erase(0, p + 2);
    throw Error(label + ": " + what + " is not valid JSON: " + detail);
  }
  return root;
}

}  // namespace

json parse_strict_json(std::string_view text, const std::string& label, const std::string& what) {
  return parse_strict<json>(text, label, what);
}

nlohmann::ordered_json parse_strict_ordered_json(std::string_view text, const std::string& label,
                                                 const std::string& what) {
  return parse_strict<nlohmann::ordered_json>(text, label, what);
}

// ---- safetensors header -----------------------------------------------------

}  // namespace cocktail
