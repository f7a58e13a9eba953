#pragma once
// A Hugging Face tokenizer read from its tokenizer.json, encoding text to the
// ids the `tokenizers` library gives, with no Python. Supported (anything else
// is refused when the file is read, naming the component):
//   model          BPE (merge ranks, byte_fallback, unk_token, fuse_unk,
//                  continuing_subword_prefix, end_of_word_suffix, ignore_merges),
//                  WordPiece, Unigram (byte_fallback)
//   normalizer     BertNormalizer, Lowercase, NFC, NFD, Precompiled, Prepend,
//                  Replace, Sequence, Strip
//   pre_tokenizer  ByteLevel, Split (regex or string), Metaspace,
//                  BertPreTokenizer, Whitespace, WhitespaceSplit, Sequence
//   post_processor TemplateProcessing, BertProcessing, RobertaProcessing,
//                  ByteLevel, Sequence
//   added_tokens   special or not, with single_word / lstrip / rstrip / normalized
// The decoder is not needed to encode and is ignored, and so are "truncation"
// and "padding" (callers truncate, as transformers does).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cocktail {

class Tokenizer {
 public:
  // Throws cocktail::Error naming the file and the unsupported model /
  // normalizer / pre-tokenizer / post-processor type when it is not one we
  // implement, or what is malformed.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  // The same from the file's text; `label` names it in errors.
  static Tokenizer from_json(std::string_view json_text, const std::string& label);

  // Ids as Hugging Face tokenizers' encode(text, add_special_tokens) gives them
  // (add_special_tokens applies the post-processor template: BOS, CLS/SEP...).
  // Throws cocktail::Error when `text` is not UTF-8, or when a word needs the
  // unknown token and the vocabulary lacks it. Safe to call from many threads.
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = true) const;

  // A pair (a cross-encoder's query and passage) as transformers'
  // tokenizer(a, b, truncation=True, max_length=max_length) gives it with a
  // fast tokenizer: special tokens and token types of the pair template, and
  // tokenizers' "longest_first" truncation, which shortens the longer side
  // (both halves when both are long) to leave room for the special tokens.
  struct Pair {
    std::vector<int64_t> ids, type_ids;
  };
  Pair encode_pair(std::string_view a, std::string_view b, size_t max_length) const;

  // An added token's id, else the model's; nullopt when neither has it.
  std::optional<int64_t> token_to_id(std::string_view token) const;
  // tokenizers' get_vocab_size(with_added_tokens=true): the model's tokens plus
  // the added tokens it does not hold.
  size_t vocab_size() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable once read, so copies share it
};

}  // namespace cocktail
