#include "tokenizer/pretokenize.hpp"

#include <array>
#include <functional>

#include "core/error.hpp"
#include "tokenizer/normalize.hpp"
#include "tokenizer/regex.hpp"
#include "tokenizer/split.hpp"
#include "tokenizer/unicode.hpp"

namespace cocktail::tok {

namespace {

constexpr std::string_view kSupported =
    "BertPreTokenizer, ByteLevel, Metaspace, Sequence, Split, Whitespace, WhitespaceSplit";

// GPT-2's pattern, which ByteLevel uses when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Applies `fn` to every piece, collecting the non-empty results.
void for_each_piece(std::vector<Piece>& pieces,
                    const std::function<void(Piece&, std::vector<Piece>&)>& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (auto& p : pieces) fn(p, out);
  pieces = std::move(out);
}

// GPT-2's printable stand-ins for bytes: bytes that are printable Latin-1
// stand for themselves, the others for U+0100 onwards in byte order.
std::array<char32_t, 256> byte_chars() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    table[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return table;
}

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(const json& j, const JsonAt& at)
      : add_prefix_space_(optional_bool(j, "add_prefix_space", true, at)),
        use_regex_(optional_bool(j, "use_regex", true, at)),
        regex_(kGpt2Pattern),
        bytes_(byte_chars()) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [&](Piece& p, std::vector<Piece>& out) {
      if (add_prefix_space_ && !p.empty() && p.chars[0] != U' ') {
        p.chars.insert(p.chars.begin(), U' ');
        p.origin.insert(p.origin.begin(), p.origin[0]);
      }
      std::vector<Piece> words;
      if (use_regex_) {
        split_piece(p, regex_.find_matches(p.chars), SplitBehavior::Isolated, words);
      } else if (!p.empty()) {
        words.push_back(std::move(p));
      }
      for (auto& w : words) out.push_back(to_bytes(w));
    });
  }

 private:
  Piece to_bytes(const Piece& w) const {
    Piece out;
    std::string utf8;
    for (size_t i = 0; i < w.size(); ++i) {
      utf8.clear();
      append_utf8(utf8, w.chars[i]);
      for (char b : utf8) out.push(bytes_[static_cast<unsigned char>(b)], w.origin[i]);
    }
    return out;
  }

  bool add_prefix_space_, use_regex_;
  Regex regex_;
  std::array<char32_t, 256> bytes_;
};

SplitBehavior parse_behavior(const json& j, const JsonAt& at) {
  const std::string b = required_string(j, "behavior", at);
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  at["behavior"].fail("unknown behavior '" + b +
                      "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
                      "Contiguous)");
}

class Split final : public PreTokenizer {
 public:
  Split(const json& j, const JsonAt& at)
      : regex_(pattern_from_json(required(j, "pattern", at), at["pattern"])),
        behavior_(parse_behavior(j, at)),
        invert_(optional_bool(j, "invert", false, at)) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [&](Piece& p, std::vector<Piece>& out) {
      auto matches = regex_.find_matches(p.chars);
      if (invert_) {
        for (auto& m : matches) m.second = !m.second;
      }
      split_piece(p, matches, behavior_, out);
    });
  }

 private:
  Regex regex_;
  SplitBehavior behavior_;
  bool invert_;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };

  Metaspace(const json& j, const JsonAt& at) : split_(optional_bool(j, "split", true, at)) {
    const std::u32string r = decode_utf8(required_string(j, "replacement", at));
    if (r.size() != 1) at["replacement"].fail("expected one character");
    replacement_ = r[0];
    const std::string scheme = optional_string(j, "prepend_scheme", at).value_or("always");
    if (scheme == "always") {
      prepend_ = Prepend::Always;
    } else if (scheme == "first") {
      prepend_ = Prepend::First;
    } else if (scheme == "never") {
      prepend_ = Prepend::Never;
    } else {
      at["prepend_scheme"].fail("unknown scheme '" + scheme +
                                "' (expected always, first or never)");
    }
    // Older files say add_prefix_space; tokenizers refuses false unless the
    // scheme is "never", and ignores true.
    if (!optional_bool(j, "add_prefix_space", true, at) && prepend_ != Prepend::Never) {
      at["add_prefix_space"].fail("false does not match prepend_scheme '" + scheme + "'");
    }
  }

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [&](Piece& p, std::vector<Piece>& out) {
      for (auto& c : p.chars) {
        if (c == U' ') c = replacement_;
      }
      const bool prepend =
          prepend_ == Prepend::Always || (prepend_ == Prepend::First && p.starts_input());
      if (prepend && !p.empty() && p.chars[0] != replacement_) {
        p.chars.insert(p.chars.begin(), replacement_);
        p.origin.insert(p.origin.begin(), p.origin[0]);
      }
      if (split_) {
        split_piece(p, char_matches(p, [&](char32_t c) { return c == replacement_; }),
                    SplitBehavior::MergedWithNext, out);
      } else if (!p.empty()) {
        out.push_back(std::move(p));
      }
    });
  }

 private:
  char32_t replacement_ = 0;
  Prepend prepend_ = Prepend::Always;
  bool split_;
};

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [](Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p, is_white_space), SplitBehavior::Removed, out);
    });
    for_each_piece(pieces, [](Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p, is_bert_punctuation), SplitBehavior::Isolated, out);
    });
  }
};

class WhitespaceSplit final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [](Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p, is_white_space), SplitBehavior::Removed, out);
    });
  }
};

// The matches of \w+|[^\w\s]+ (Rust regex's \w, not Oniguruma's): runs of
// word characters and runs of other non-space characters; spaces go.
class Whitespace final : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for_each_piece(pieces, [](Piece& p, std::vector<Piece>& out) {
      enum Kind { Space, Word, Other };
      auto kind = [&](size_t i) {
        const char32_t c = p.chars[i];
        return is_rust_word_char(c) ? Word : is_white_space(c) ? Space : Other;
      };
      for (size_t i = 0; i < p.size();) {
        const Kind k = kind(i);
        size_t j = i + 1;
        while (j < p.size() && kind(j) == k) ++j;
        if (k != Space) out.push_back(p.slice(i, j));
        i = j;
      }
    });
  }
};

class Sequence final : public PreTokenizer {
 public:
  Sequence(const json& j, const JsonAt& at) {
    const json& list = required(j, "pretokenizers", at);
    if (!list.is_array()) at["pretokenizers"].fail("expected a list");
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], at["pretokenizers"].item(i));
      if (p) steps_.push_back(std::move(p));
    }
  }

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& step : steps_) step->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& config, const JsonAt& at) {
  if (config.is_null()) return nullptr;
  const std::string type = component_type(config, at);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(config, at);
  if (type == "Split") return std::make_unique<Split>(config, at);
  if (type == "Metaspace") return std::make_unique<Metaspace>(config, at);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "Sequence") return std::make_unique<Sequence>(config, at);
  unsupported_type(at, type, kSupported);
}

}  // namespace cocktail::tok
