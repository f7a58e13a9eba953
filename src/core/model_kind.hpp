#pragma once
// Which kind of model a config.json's model_type names, where it decides
// what cocktail does: embedding models get sentence-transformers modules and
// are scored with {query, pos, neg} examples; decoders with {input, output}.
#include <string_view>

namespace cocktail {

inline bool is_embedding_model_type(std::string_view type) {
  return type == "bert" || type == "xlm-roberta" || type == "roberta";
}

inline bool is_decoder_model_type(std::string_view type) {
  return type == "llama" || type == "mistral" || type == "qwen2";
}

}  // namespace cocktail
