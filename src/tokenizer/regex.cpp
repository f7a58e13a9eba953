#include "tokenizer/regex.hpp"

#include <oniguruma.h>

#include <mutex>

#include "core/error.hpp"
#include "tokenizer/text.hpp"

namespace cocktail::tok {

namespace {

std::string onig_message(int code, OnigErrorInfo* info) {
  OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
  const int n = info != nullptr ? onig_error_code_to_str(buf, code, info)
                                : onig_error_code_to_str(buf, code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n > 0 ? n : 0));
}

}  // namespace

struct Regex::Compiled {
  regex_t* regex = nullptr;
  ~Compiled() {
    if (regex != nullptr) onig_free(regex);
  }
};

Regex::Regex(std::string_view pattern) {
  // Oniguruma keeps its encoding tables process-wide; initialise them once,
  // before the first pattern, whichever thread builds it.
  static std::once_flag init;
  std::call_once(init, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
  auto compiled = std::make_shared<Compiled>();
  OnigErrorInfo info{};
  const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
  const int rc = onig_new(&compiled->regex, begin, begin + pattern.size(), ONIG_OPTION_NONE,
                          ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  if (rc != ONIG_NORMAL) {
    compiled->regex = nullptr;
    throw Error("regex '" + std::string(pattern) + "': " + onig_message(rc, &info));
  }
  compiled_ = std::move(compiled);
}

std::vector<std::pair<std::pair<size_t, size_t>, bool>> Regex::find_matches(
    std::u32string_view text) const {
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> out;
  if (text.empty()) {
    out.push_back({{0, 0}, false});
    return out;
  }
  // Oniguruma works on the UTF-8 bytes: char_at maps a byte offset at a
  // character boundary to its code point index, byte_at the other way.
  std::string utf8;
  std::vector<size_t> char_at, byte_at;
  utf8.reserve(text.size());
  char_at.reserve(text.size() + 1);
  byte_at.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    byte_at.push_back(utf8.size());
    append_utf8(utf8, text[i]);
    char_at.resize(utf8.size(), i);
  }
  char_at.push_back(text.size());
  byte_at.push_back(utf8.size());
  const auto* str = reinterpret_cast<const OnigUChar*>(utf8.data());
  const auto* end = str + utf8.size();

  OnigRegion* region = onig_region_new();
  struct Free {
    OnigRegion* r;
    ~Free() { onig_region_free(r, 1); }
  } free_region{region};

  // Past an empty match at byte b the search resumes one character on.
  const auto after_empty = [&](size_t b) {
    return b >= utf8.size() ? utf8.size() + 1 : byte_at[char_at[b] + 1];
  };
  size_t prev = 0;      // code points
  size_t from = 0;     // bytes
  bool have_last = false;
  size_t last_end = 0;  // bytes
  while (from <= utf8.size()) {
    const int rc = onig_search(compiled_->regex, str, end, str + from, end, region, ONIG_OPTION_NONE);
    if (rc == ONIG_MISMATCH) break;
    if (rc < 0) throw Error("regex search: " + onig_message(rc, nullptr));
    const auto s = static_cast<size_t>(region->beg[0]);
    const auto e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_end == e) {
      from = after_empty(e);
      continue;
    }
    const size_t cs = char_at[s], ce = char_at[e];
    if (prev != cs) out.push_back({{prev, cs}, false});
    out.push_back({{cs, ce}, true});
    prev = ce;
    have_last = true;
    last_end = e;
    from = s == e ? after_empty(e) : e;
  }
  if (prev != text.size()) out.push_back({{prev, text.size()}, false});
  return out;
}

}  // namespace cocktail::tok
