#include "tokenizer/model.hpp"

namespace cocktail::tok {

Vocab read_vocab(const json& config, const JsonAt& at) {
  const json& v = required(config, "vocab", at);
  if (!v.is_object()) at["vocab"].fail("expected an object of token: id");
  Vocab vocab;
  vocab.reserve(v.size());
  for (const auto& [token, id] : v.items()) {
    vocab.emplace(token, required_id(id, at["vocab"][token]));
  }
  return vocab;
}

std::unique_ptr<Model> make_model(const json& config, const JsonAt& at) {
  if (!config.is_object()) at.fail("expected an object");
  std::string type;
  if (config.contains("type")) {
    type = component_type(config, at);
  } else if (config.contains("merges")) {
    type = "BPE";  // files from before models were tagged
  } else if (config.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  } else {
    at.fail("has no \"type\"");
  }
  if (type == "BPE") return make_bpe(config, at);
  if (type == "WordPiece") return make_wordpiece(config, at);
  if (type == "Unigram") return make_unigram(config, at);
  unsupported_type(at, type, "BPE, Unigram, WordPiece");
}

}  // namespace cocktail::tok
