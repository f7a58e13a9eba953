// The WordPiece model as tokenizers runs it: greedy longest match first, the
// pieces after the first carrying the continuing prefix ("##"); a word with
// any unmatched part, or longer than max_input_chars_per_word, is one unknown.
#include "core/error.hpp"
#include "tokenizer/model.hpp"

namespace cocktail::tok {

namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

class WordPiece final : public Model {
 public:
  WordPiece(const json& j, const JsonAt& at)
      : Model(read_vocab(j, at)),
        at_(at),
        unk_token_(optional_string(j, "unk_token", at).value_or("[UNK]")),
        prefix_(optional_string(j, "continuing_subword_prefix", at).value_or("##")) {
    if (const auto it = j.find("max_input_chars_per_word"); it != j.end() && !it->is_null()) {
      if (!it->is_number_unsigned()) at["max_input_chars_per_word"].fail("expected a count");
      max_chars_ = it->get<uint64_t>();
    }
  }

  void tokenize(std::string_view word, std::vector<int64_t>& ids) const override {
    size_t chars = 0;
    for (char c : word) chars += is_continuation_byte(c) ? 0 : 1;
    if (chars > max_chars_) {
      ids.push_back(unk_id());
      return;
    }
    const size_t first = ids.size();
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      size_t end = word.size();
      std::optional<uint32_t> found;
      while (start < end) {
        candidate.clear();
        if (start > 0) candidate += prefix_;
        candidate.append(word.substr(start, end - start));
        if ((found = token_to_id(candidate))) break;
        do {
          --end;  // back one character
        } while (end > start && is_continuation_byte(word[end]));
      }
      if (!found) {
        ids.resize(first);
        ids.push_back(unk_id());
        return;
      }
      ids.push_back(*found);
      start = end;
    }
  }

 private:
  uint32_t unk_id() const {
    const auto id = token_to_id(unk_token_);
    if (!id) at_["unk_token"].fail("'" + unk_token_ + "' is not in the vocabulary");
    return *id;
  }

  JsonAt at_;
  std::string unk_token_, prefix_;
  uint64_t max_chars_ = 100;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const json& config, const JsonAt& at) {
  return std::make_unique<WordPiece>(config, at);
}

}  // namespace cocktail::tok
