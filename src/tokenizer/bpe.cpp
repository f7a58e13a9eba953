// The BPE model as tokenizers runs it: a word starts as its characters (or
// their <0xNN> byte tokens, or the unknown token), then the adjacent pair with
// the lowest merge rank is merged, leftmost first, until no pair merges.
#include <cmath>
#include <queue>

#include "core/error.hpp"
#include "tokenizer/model.hpp"

namespace cocktail::tok {

namespace {

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

struct MergeRule {
  uint32_t rank;
  uint32_t new_id;
};

struct Symbol {
  uint32_t id;
  int prev, next;
  size_t len;  // bytes of the word it covers; 0 once merged into its left neighbour
};

// Candidate merge of symbols[pos] with its right neighbour.
struct Candidate {
  size_t pos;
  uint32_t rank;
  uint32_t new_id;
  // priority_queue pops the largest: the lowest rank, then the leftmost.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

class Bpe final : public Model {
 public:
  Bpe(const json& j, const JsonAt& at) : Model(read_vocab(j, at)), at_(at) {
    if (const auto it = j.find("dropout"); it != j.end() && !it->is_null()) {
      if (!it->is_number()) at["dropout"].fail("expected a number or null");
      const double p = it->get<double>();
      // Dropout makes encoding random; a loss must not depend on the run.
      if (p != 0.0)
        at["dropout"].fail("dropout " + it->dump() + " is not supported (only null or 0)");
    }
    unk_token_ = optional_string(j, "unk_token", at);
    prefix_ = optional_string(j, "continuing_subword_prefix", at);
    suffix_ = optional_string(j, "end_of_word_suffix", at);
    fuse_unk_ = optional_bool(j, "fuse_unk", false, at);
    byte_fallback_ = optional_bool(j, "byte_fallback", false, at);
    ignore_merges_ = optional_bool(j, "ignore_merges", false, at);
    read_merges(required(j, "merges", at), at["merges"]);
  }

  void tokenize(std::string_view word, std::vector<int64_t>& ids) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      if (const auto id = token_to_id(word)) {
        ids.push_back(*id);
        return;
      }
    }
    std::vector<Symbol> symbols = initial_symbols(word);
    merge_all(symbols);
    for (const auto& s : symbols) {
      if (s.len != 0) ids.push_back(s.id);
    }
  }

 private:
  void read_merges(const json& merges, const JsonAt& at) {
    if (!merges.is_array()) at.fail("expected a list");
    const size_t prefix_len = prefix_ ? prefix_->size() : 0;
    merges_.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const json& m = merges[i];
      std::string a, b;
      if (m.is_string()) {
        // "a b": tokens of these files never contain a space.
        const std::string s = m.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
          at.item(i).fail("expected \"left right\"");
        }
        a = s.substr(0, space);
        b = s.substr(space + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        at.item(i).fail("expected \"left right\" or [\"left\", \"right\"]");
      }
      auto id_of = [&](const std::string& t) {
        const auto id = token_to_id(t);
        if (!id) at.item(i).fail("merge token '" + t + "' is not in the vocabulary");
        return *id;
      };
      if (b.size() < prefix_len)
        at.item(i).fail("merge token '" + b + "' lacks the subword prefix");
      const uint32_t a_id = id_of(a), b_id = id_of(b);
      const uint32_t new_id = id_of(a + b.substr(prefix_len));
      // A repeated pair keeps its last rank, as tokenizers' map does.
      merges_[pair_key(a_id, b_id)] = MergeRule{static_cast<uint32_t>(i), new_id};
    }
  }

  uint32_t unk_id() const {
    const auto id = token_to_id(*unk_token_);
    if (!id) {
      at_["unk_token"].fail("'" + *unk_token_ + "' is not in the vocabulary");
    }
    return *id;
  }

  std::vector<Symbol> initial_symbols(std::string_view word) const {
    std::vector<Symbol> symbols;
    auto add = [&](uint32_t id, size_t len) {
      const int n = static_cast<int>(symbols.size());
      if (n > 0) symbols.back().next = n;
      symbols.push_back(Symbol{id, n - 1, -1, len});
    };
    struct {
      bool pending = false;
      uint32_t id = 0;
      size_t len = 0;
    } unk;  // a run of unknown characters not added yet
    std::string symbol;
    for (size_t i = 0; i < word.size();) {
      const size_t len =
          std::min(utf8_length(static_cast<unsigned char>(word[i])), word.size() - i);
      const bool first = i == 0, last = i + len == word.size();
      symbol.clear();
      if (!first && prefix_) symbol += *prefix_;
      symbol.append(word.substr(i, len));
      if (last && suffix_) symbol += *suffix_;
      i += len;

      if (const auto id = token_to_id(symbol)) {
        if (unk.pending) {
          add(unk.id, unk.len);
          unk.pending = false;
        }
        add(*id, len);
        continue;
      }
      if (byte_fallback_) {
        // Every byte of the symbol (prefix and suffix included) as <0xNN>, or none.
        std::vector<uint32_t> bytes;
        for (unsigned char b : symbol) {
          static const char* kHex = "0123456789ABCDEF";
          const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
          const auto id = token_to_id(std::string_view(name, sizeof name));
          if (!id) break;
          bytes.push_back(*id);
        }
        if (bytes.size() == symbol.size()) {
          // tokenizers leaves a pending unknown run pending here.
          for (uint32_t id : bytes) add(id, 1);
          continue;
        }
      }
      if (unk_token_) {
        if (unk.pending && fuse_unk_) {
          unk.len += len;
        } else {
          if (unk.pending) add(unk.id, unk.len);
          unk.pending = true;
          unk.id = unk_id();
          unk.len = len;
        }
      }
      // Without an unknown token the character is dropped, as in tokenizers.
    }
    if (unk.pending) add(unk.id, unk.len);
    return symbols;
  }

  const MergeRule* find_merge(uint32_t a, uint32_t b) const {
    const auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }

  void merge_all(std::vector<Symbol>& symbols) const {
    std::priority_queue<Candidate> queue;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      if (const auto* m = find_merge(symbols[i].id, symbols[i + 1].id)) {
        queue.push(Candidate{i, m->rank, m->new_id});
      }
    }
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& cur = symbols[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const Symbol right = symbols[static_cast<size_t>(cur.next)];
      // Skip entries made stale by an earlier merge.
      const auto* m = find_merge(cur.id, right.id);
      if (m == nullptr || m->new_id != top.new_id) continue;
      symbols[static_cast<size_t>(cur.next)].len = 0;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      if (right.next >= 0)
        symbols[static_cast<size_t>(right.next)].prev = static_cast<int>(top.pos);
      if (cur.prev >= 0) {
        const Symbol& prev = symbols[static_cast<size_t>(cur.prev)];
        if (const auto* pm = find_merge(prev.id, cur.id)) {
          queue.push(Candidate{static_cast<size_t>(cur.prev), pm->rank, pm->new_id});
        }
      }
      if (cur.next >= 0) {
        const Symbol& next = symbols[static_cast<size_t>(cur.next)];
        if (const auto* nm = find_merge(cur.id, next.id)) {
          queue.push(Candidate{top.pos, nm->rank, nm->new_id});
        }
      }
    }
  }

  JsonAt at_;
  std::optional<std::string> unk_token_, prefix_, suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::unordered_map<uint64_t, MergeRule> merges_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const json& config, const JsonAt& at) {
  return std::make_unique<Bpe>(config, at);
}

}  // namespace cocktail::tok
