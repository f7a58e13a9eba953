#include "tokenizer/added.hpp"

#include <algorithm>
#include <set>

#include "tokenizer/unicode.hpp"

namespace cocktail::tok {

void AddedVocabulary::Trie::insert(const std::u32string& pattern, uint32_t id) {
  size_t n = 0;
  for (char32_t c : pattern) {
    auto it = nodes[n].next.find(c);
    if (it == nodes[n].next.end()) {
      nodes.emplace_back();
      it = nodes[n].next.emplace(c, static_cast<int>(nodes.size() - 1)).first;
    }
    n = static_cast<size_t>(it->second);
  }
  // Of two identical patterns the automaton reports the first.
  if (!nodes[n].id) nodes[n].id = id;
}

std::optional<std::pair<size_t, uint32_t>> AddedVocabulary::Trie::longest_at(
    const std::u32string& text, size_t at) const {
  std::optional<std::pair<size_t, uint32_t>> best;
  size_t n = 0;
  for (size_t i = at; i < text.size(); ++i) {
    const auto it = nodes[n].next.find(text[i]);
    if (it == nodes[n].next.end()) break;
    n = static_cast<size_t>(it->second);
    if (nodes[n].id) best = std::pair{i + 1, *nodes[n].id};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const json& list, const JsonAt& at, const Model& model,
                                 const Normalizer* normalizer) {
  if (list.is_null()) return;
  if (!list.is_array()) at.fail("expected a list");
  struct Token {
    std::string content;
    Flags flags;
  };
  std::vector<Token> special, plain;  // tokenizers' special_tokens and added_tokens lists
  std::set<std::string> special_set;
  std::vector<Token> all;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& j = list[i];
    const JsonAt here = at.item(i);
    if (!j.is_object()) here.fail("expected an object");
    Token t{
        required_string(j, "content", here),
        Flags{optional_bool(j, "single_word", false, here), optional_bool(j, "lstrip", false, here),
              optional_bool(j, "rstrip", false, here), optional_bool(j, "normalized", true, here),
              optional_bool(j, "special", false, here)}};
    // The file's id is only checked for form: tokenizers assigns ids itself
    // (below) and merely warns when the file disagrees.
    if (j.contains("id")) required_id(j["id"], here["id"]);
    all.push_back(std::move(t));
  }
  auto same = [](const Flags& a, const Flags& b) {
    return a.single_word == b.single_word && a.lstrip == b.lstrip && a.rstrip == b.rstrip &&
           a.normalized == b.normalized && a.special == b.special;
  };
  for (const auto& t : all) {
    if (t.flags.special && !t.content.empty() && special_set.insert(t.content).second) {
      special.push_back(t);
    }
  }
  const uint32_t model_size = static_cast<uint32_t>(model.vocab().size());
  std::optional<uint32_t> max_added;
  for (const auto& t : all) {
    if (t.content.empty()) continue;
    const auto known = ids_.find(t.content);
    if (known != ids_.end() && same(flags_[known->second], t.flags)) continue;  // a repeat
    uint32_t id;
    if (known != ids_.end()) {
      id = known->second;
    } else if (const auto m = model.token_to_id(t.content)) {
      id = *m;
    } else if (!max_added) {
      id = model_size;
    } else {
      id = (*max_added >= model_size || model_size == 0) ? *max_added + 1 : model_size;
    }
    ids_[t.content] = id;
    max_added = std::max(max_added.value_or(0), id);
    flags_[id] = t.flags;
    if (!special_set.count(t.content)) plain.push_back(t);
  }
  auto add_to_trie = [&](const Token& t) {
    const uint32_t id = ids_.at(t.content);
    Piece p = decode_input(t.content);
    if (t.flags.normalized) {
      if (normalizer) normalizer->normalize(p);
      // An empty pattern would match everywhere; such a token cannot occur.
      if (!p.empty()) normalized_.insert(p.chars, id);
    } else {
      raw_.insert(p.chars, id);
    }
  };
  for (const auto& t : special) add_to_trie(t);
  for (const auto& t : plain) add_to_trie(t);
}

void AddedVocabulary::split(const Piece& text, bool normalized, std::vector<Segment>& out) const {
  const Trie& trie = normalized ? normalized_ : raw_;
  const std::u32string& s = text.chars;
  const size_t n = s.size();
  auto push = [&](size_t b, size_t e, std::optional<uint32_t> id) {
    if (e > b) out.push_back(Segment{text.slice(b, e), id});
  };
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < n && trie.nodes[0].next.size() > 0) {
    std::optional<std::pair<size_t, uint32_t>> found;
    size_t begin = pos;
    for (; begin < n; ++begin) {
      if ((found = trie.longest_at(s, begin))) break;
    }
    if (!found) break;
    size_t start = begin, stop = found->first;
    const uint32_t id = found->second;
    pos = stop;  // the automaton goes on after the match, even a rejected one
    const Flags& f = flags_.at(id);
    if (f.single_word) {
      const bool start_space = start == 0 || !is_rust_word_char(s[start - 1]);
      const bool stop_space = stop == n || !is_rust_word_char(s[stop]);
      if (!start_space || !stop_space) continue;
    }
    if (f.lstrip) {
      size_t new_start = start;
      while (new_start > 0 && is_white_space(s[new_start - 1])) --new_start;
      // Spaces an earlier match took are not taken again.
      start = std::max(new_start, start_offset);
    }
    if (f.rstrip) {
      while (stop < n && is_white_space(s[stop])) ++stop;
    }
    if (start_offset < start) push(start_offset, start, std::nullopt);
    push(start, stop, id);
    start_offset = stop;
  }
  if (start_offset < n) push(start_offset, n, std::nullopt);
}

std::optional<uint32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  const auto it = ids_.find(content);
  return it == ids_.end() ? std::nullopt : std::optional<uint32_t>(it->second);
}

size_t AddedVocabulary::count_not_in(const Model& model) const {
  size_t count = 0;
  for (const auto& [content, id] : ids_) count += model.token_to_id(content) ? 0 : 1;
  return count;
}

}  // namespace cocktail::tok
