#include "tokenizer/normalize.hpp"

#include <vector>

#include "core/error.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/unicode.hpp"

namespace cocktail::tok {

namespace {

constexpr std::string_view kSupported =
    "BertNormalizer, Lowercase, NFC, NFD, Precompiled, Prepend, Replace, Sequence, Strip";

class Lowercase final : public Normalizer {
 public:
  void normalize(Piece& text) const override {
    Piece out;
    std::u32string lower;
    for (size_t i = 0; i < text.size(); ++i) {
      lower.clear();
      append_lowercase(text.chars[i], lower);
      for (char32_t c : lower) out.push(c, text.origin[i]);
    }
    text = std::move(out);
  }
};

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(const json& j, const JsonAt& at)
      : clean_text_(optional_bool(j, "clean_text", true, at)),
        chinese_(optional_bool(j, "handle_chinese_chars", true, at)),
        lowercase_(optional_bool(j, "lowercase", true, at)),
        // strip_accents: null means "as lowercase" (BERT's uncased models).
        strip_accents_(optional_bool(j, "strip_accents", lowercase_, at)) {}

  void normalize(Piece& text) const override {
    if (clean_text_) {
      Piece out;
      for (size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text.chars[i];
        if (is_bert_control(c)) continue;
        out.push(is_white_space(c) ? U' ' : c, text.origin[i]);
      }
      text = std::move(out);
    }
    if (chinese_) {
      Piece out;
      for (size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text.chars[i];
        if (is_chinese_char(c)) {
          out.push(U' ', text.origin[i]);
          out.push(c, text.origin[i]);
          out.push(U' ', text.origin[i]);
        } else {
          out.push(c, text.origin[i]);
        }
      }
      text = std::move(out);
    }
    if (strip_accents_) {
      nfd(text);
      Piece out;
      for (size_t i = 0; i < text.size(); ++i) {
        if (!is_bert_nonspacing_mark(text.chars[i])) out.push(text.chars[i], text.origin[i]);
      }
      text = std::move(out);
    }
    if (lowercase_) Lowercase().normalize(text);
  }

 private:
  bool clean_text_, chinese_, lowercase_, strip_accents_;
};

class Nfc final : public Normalizer {
 public:
  void normalize(Piece& text) const override { nfc(text); }
};

class Nfd final : public Normalizer {
 public:
  void normalize(Piece& text) const override { nfd(text); }
};

// Whitespace (Rust's char::is_whitespace) off either end.
class Strip final : public Normalizer {
 public:
  Strip(const json& j, const JsonAt& at)
      : left_(optional_bool(j, "strip_left", true, at)),
        right_(optional_bool(j, "strip_right", true, at)) {}

  void normalize(Piece& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end && is_white_space(text.chars[begin])) ++begin;
    }
    if (right_) {
      while (end > begin && is_white_space(text.chars[end - 1])) --end;
    }
    if (begin != 0 || end != text.size()) text = text.slice(begin, end);
  }

 private:
  bool left_, right_;
};

class Prepend final : public Normalizer {
 public:
  Prepend(const json& j, const JsonAt& at)
      : prefix_(decode_utf8(required_string(j, "prepend", at))) {}

  void normalize(Piece& text) const override {
    if (text.empty()) return;
    Piece out;
    // Inserted characters share the alignment of the character they precede.
    for (char32_t c : prefix_) out.push(c, text.origin[0]);
    out.chars += text.chars;
    out.origin.insert(out.origin.end(), text.origin.begin(), text.origin.end());
    text = std::move(out);
  }

 private:
  std::u32string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(const json& j, const JsonAt& at)
      : pattern_(pattern_from_json(required(j, "pattern", at), at["pattern"])),
        content_(decode_utf8(required_string(j, "content", at))) {}

  void normalize(Piece& text) const override {
    Piece out;
    for (const auto& [span, is_match] : pattern_.find_matches(text.chars)) {
      const auto [s, e] = span;
      if (!is_match) {
        for (size_t i = s; i < e; ++i) out.push(text.chars[i], text.origin[i]);
        continue;
      }
      // tokenizers aligns the replacement with the last replaced character
      // (or, for an empty match, the one before it).
      size_t from = 0;
      if (e > s) {
        from = text.origin[e - 1];
      } else if (s > 0) {
        from = text.origin[s - 1];
      } else if (!text.empty()) {
        from = text.origin[0];
      }
      for (char32_t c : content_) out.push(c, from);
    }
    text = std::move(out);
  }

 private:
  Regex pattern_;
  std::u32string content_;
};

class Sequence final : public Normalizer {
 public:
  Sequence(const json& j, const JsonAt& at) {
    const json& list = required(j, "normalizers", at);
    if (!list.is_array()) at["normalizers"].fail("expected a list");
    for (size_t i = 0; i < list.size(); ++i) {
      auto n = make_normalizer(list[i], at["normalizers"].item(i));
      if (n) steps_.push_back(std::move(n));
    }
  }

  void normalize(Piece& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

namespace {

std::string escape_regex(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain =
        u >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!plain) {
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      if (c == '\t') {
        out += "\\t";
        continue;
      }
      if (c == '\r') {
        out += "\\r";
        continue;
      }
      if (u < 0x20 || u == 0x7F) {
        static const char* kHex = "0123456789ABCDEF";
        out += "\\x{";
        out += kHex[u >> 4];
        out += kHex[u & 15];
        out += '}';
        continue;
      }
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace

Regex pattern_from_json(const json& p, const JsonAt& at) {
  if (!p.is_object() || p.size() != 1) at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  try {
    if (p.contains("String") && p["String"].is_string())
      return Regex(escape_regex(p["String"].get<std::string>()));
    if (p.contains("Regex") && p["Regex"].is_string()) return Regex(p["Regex"].get<std::string>());
  } catch (const Error& e) {
    at.fail(e.what());
  }
  at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

std::unique_ptr<Normalizer> make_normalizer(const json& config, const JsonAt& at) {
  if (config.is_null()) return nullptr;
  const std::string type = component_type(config, at);
  if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(config, at);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "NFC") return std::make_unique<Nfc>();
  if (type == "NFD") return std::make_unique<Nfd>();
  if (type == "Precompiled") return make_precompiled(config, at);
  if (type == "Prepend") return std::make_unique<Prepend>(config, at);
  if (type == "Replace") return std::make_unique<Replace>(config, at);
  if (type == "Sequence") return std::make_unique<Sequence>(config, at);
  if (type == "Strip") return std::make_unique<Strip>(config, at);
  unsupported_type(at, type, kSupported);
}

}  // namespace cocktail::tok
