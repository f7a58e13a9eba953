// The Unigram model as tokenizers runs it (XLM-R, T5, ALBERT, mT5: every
// sentencepiece "unigram" model converted to tokenizer.json): the best path
// through the lattice of vocabulary pieces, each scored by its log
// probability, found by sentencepiece's one-pass Viterbi over byte positions.
// A character no piece starts with becomes the unknown token, scored
// 10 below the lowest piece; consecutive unknowns fuse into one.
#include <algorithm>
#include <limits>

#include "tokenizer/model.hpp"

namespace cocktail::tok {

namespace {

constexpr double kUnkPenalty = 10.0;  // sentencepiece's kUnkPenalty

size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// A byte trie of the pieces with the children of each node in one sorted run,
// so the common-prefix search walks the text once per start position.
class PieceTrie {
 public:
  explicit PieceTrie(const std::vector<std::pair<std::string, uint32_t>>& pieces) {
    std::vector<const std::pair<std::string, uint32_t>*> sorted;
    sorted.reserve(pieces.size());
    for (const auto& p : pieces) sorted.push_back(&p);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    // Built node by node; sorted input appends each node's children in order.
    struct Building {
      std::vector<std::pair<unsigned char, uint32_t>> kids;
      int64_t id = -1;
    };
    std::vector<Building> nodes(1);
    for (const auto* p : sorted) {
      uint32_t n = 0;
      for (char ch : p->first) {
        const auto b = static_cast<unsigned char>(ch);
        auto& kids = nodes[n].kids;
        if (kids.empty() || kids.back().first != b) {
          kids.emplace_back(b, static_cast<uint32_t>(nodes.size()));
          nodes.emplace_back();
        }
        n = nodes[n].kids.back().second;
      }
      nodes[n].id = p->second;  // a repeated piece: the later id, as tokenizers keeps
    }
    first_edge_.reserve(nodes.size() + 1);
    id_.reserve(nodes.size());
    for (const auto& node : nodes) {
      first_edge_.push_back(static_cast<uint32_t>(label_.size()));
      id_.push_back(node.id);
      for (const auto& [b, child] : node.kids) {
        label_.push_back(b);
        child_.push_back(child);
      }
    }
    first_edge_.push_back(static_cast<uint32_t>(label_.size()));
  }

  // Calls f(length, id) for every piece that is a prefix of `text`, shortest first.
  template <class F>
  void common_prefixes(std::string_view text, F f) const {
    uint32_t n = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const auto b = static_cast<unsigned char>(text[i]);
      const auto* begin = label_.data() + first_edge_[n];
      const auto* end = label_.data() + first_edge_[n + 1];
      const auto* it = std::lower_bound(begin, end, b);
      if (it == end || *it != b) return;
      n = child_[static_cast<size_t>(it - label_.data())];
      if (id_[n] >= 0) f(i + 1, static_cast<uint32_t>(id_[n]));
    }
  }

 private:
  std::vector<uint32_t> first_edge_;  // per node, its run in label_ / child_
  std::vector<int64_t> id_;           // per node, the piece ending there or -1
  std::vector<unsigned char> label_;
  std::vector<uint32_t> child_;
};

std::vector<std::pair<std::string, uint32_t>> read_pieces(const json& j, const JsonAt& at,
                                                          std::vector<double>& scores) {
  const json& v = required(j, "vocab", at);
  if (!v.is_array() || v.empty()) at["vocab"].fail("expected a non-empty list of [piece, score]");
  std::vector<std::pair<std::string, uint32_t>> pieces;
  pieces.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const json& e = v[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
      at["vocab"].item(i).fail("expected [piece, score]");
    }
    pieces.emplace_back(e[0].get<std::string>(), static_cast<uint32_t>(i));
    scores.push_back(e[1].get<double>());
  }
  return pieces;
}

Vocab vocab_of(const std::vector<std::pair<std::string, uint32_t>>& pieces) {
  Vocab vocab;
  vocab.reserve(pieces.size());
  for (const auto& [piece, id] : pieces) vocab.insert_or_assign(piece, id);
  return vocab;
}

class Unigram final : public Model {
 public:
  Unigram(const json& j, const JsonAt& at, std::vector<std::pair<std::string, uint32_t>> pieces,
          std::vector<double> scores)
      : Model(vocab_of(pieces)),
        at_(at),
        trie_(pieces),
        scores_(std::move(scores)),
        byte_fallback_(optional_bool(j, "byte_fallback", false, at)) {
    if (const auto it = j.find("unk_id"); it != j.end() && !it->is_null()) {
      const uint32_t id = required_id(*it, at["unk_id"]);
      if (id >= scores_.size()) at["unk_id"].fail("past the end of the vocabulary");
      unk_id_ = id;
    }
    unk_score_ = *std::min_element(scores_.begin(), scores_.end()) - kUnkPenalty;
  }

  void tokenize(std::string_view word, std::vector<int64_t>& ids) const override {
    struct Best {
      double score = 0;
      size_t start = SIZE_MAX;  // SIZE_MAX: no path ends here yet
      int64_t id = -1;
    };
    const size_t n = word.size();
    std::vector<Best> best(n + 1);
    best[0].start = 0;
    const auto offer = [&](size_t end, size_t start, double score, int64_t id) {
      Best& b = best[end];
      if (b.start == SIZE_MAX || score > b.score) b = {score, start, id};
    };
    for (size_t start = 0; start < n;) {
      const double here = best[start].score;
      const size_t char_len = std::min(utf8_length(static_cast<unsigned char>(word[start])), n - start);
      bool single_char_piece = false;
      trie_.common_prefixes(word.substr(start), [&](size_t len, uint32_t id) {
        offer(start + len, start, here + scores_[id], id);
        single_char_piece = single_char_piece || len == char_len;
      });
      if (!single_char_piece) offer(start + char_len, start, here + unk_score_, unk_id());
      start += char_len;
    }
    // Back from the end; runs of the unknown id (the piece "<unk>" itself
    // included, as tokenizers compares ids) fuse into one piece.
    std::vector<std::string_view> pieces;
    size_t unk_end = SIZE_MAX;
    for (size_t end = n; end > 0;) {
      const Best& b = best[end];
      if (unk_id_ && b.id == *unk_id_) {
        if (unk_end == SIZE_MAX) unk_end = end;
      } else {
        if (unk_end != SIZE_MAX) pieces.push_back(word.substr(end, unk_end - end));
        unk_end = SIZE_MAX;
        pieces.push_back(word.substr(b.start, end - b.start));
      }
      end = b.start;
    }
    if (unk_end != SIZE_MAX) pieces.push_back(word.substr(0, unk_end));
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) emit(*it, ids);
  }

 private:
  uint32_t unk_id() const {
    if (!unk_id_) at_["unk_id"].fail("is null, but a character of the text has no piece");
    return *unk_id_;
  }

  // tokenizers looks each piece up by its text: a fused unknown run is not in
  // the vocabulary, so it is the unknown id, or its bytes' <0xXX> pieces.
  void emit(std::string_view piece, std::vector<int64_t>& ids) const {
    if (const auto id = token_to_id(piece)) {
      ids.push_back(*id);
      return;
    }
    if (byte_fallback_) {
      std::vector<int64_t> bytes;
      static const char* kHex = "0123456789ABCDEF";
      for (char ch : piece) {
        const auto b = static_cast<unsigned char>(ch);
        const std::string name = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
        const auto id = token_to_id(name);
        if (!id) break;
        bytes.push_back(*id);
      }
      if (bytes.size() == piece.size()) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        return;
      }
    }
    ids.push_back(unk_id());
  }

  JsonAt at_;
  PieceTrie trie_;
  std::vector<double> scores_;
  bool byte_fallback_;
  std::optional<uint32_t> unk_id_;
  double unk_score_ = 0;
};

}  // namespace

std::unique_ptr<Model> make_unigram(const json& config, const JsonAt& at) {
  std::vector<double> scores;
  auto pieces = read_pieces(config, at, scores);
  return std::make_unique<Unigram>(config, at, std::move(pieces), std::move(scores));
}

}  // namespace cocktail::tok
