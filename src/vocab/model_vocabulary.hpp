#pragma once
// One model's vocabulary as transformers sees it: tokenizer.json's model
// vocabulary and added tokens, and how many embedding rows the model has
// (config.json's vocab_size). What the output vocabulary is built from.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cocktail {

struct AddedToken {
  int64_t id = 0;
  nlohmann::ordered_json entry;  // tokenizer.json's added_tokens entry, as written
  const std::string& content() const { return entry.at("content").get_ref<const std::string&>(); }
};

struct ModelVocabulary {
  std::filesystem::path folder;
  nlohmann::ordered_json tokenizer;  // tokenizer.json
  // The tokenizer model's own tokens (BPE, WordPiece, WordLevel, Unigram), by id.
  std::vector<std::pair<std::string, int64_t>> model_tokens;
  std::vector<AddedToken> added;  // in file order
  std::map<std::string, int64_t> ids;  // every token: transformers' get_vocab()
  int64_t rows = 0;  // config.json vocab_size (text_config's), else the number of ids

  bool is_added(const std::string& token) const;
  // The token's row in this model's embedding, or -1 when it has none (not
  // in the vocabulary, or an id past vocab_size).
  int64_t row(const std::string& token) const;
};

// Reads FOLDER/tokenizer.json and FOLDER/config.json. Throws cocktail::Error
// naming the file when tokenizer.json is missing or not a tokenizer.
ModelVocabulary read_model_vocabulary(const std::filesystem::path& folder);

// mergekit's get_stripped_tokenizer: the tokenizer without the tokens whose
// id is past vocab_size (an added token beyond the embedding, or a padded
// BPE vocabulary). Throws naming the file when such tokens sit in a
// tokenizer model other than BPE, as mergekit does.
ModelVocabulary stripped(const ModelVocabulary& v);

}  // namespace cocktail
