#pragma once
// Whether a config.json's model_type is an embedding model, where that
// decides what the merged folder carries: sentence-transformers modules.
// (Which forward scores a model is src/model/model_family's.)
#include <string_view>

namespace cocktail {

inline bool is_embedding_model_type(std::string_view type) {
  return type == "bert" || type == "xlm-roberta" || type == "roberta";
}

}  // namespace cocktail
