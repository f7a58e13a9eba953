#pragma once
// What a config.json's model_type and architectures say about a model where
// that decides what the merged folder carries (sentence-transformers modules
// for embedders, none for rerankers). Which forward scores a model is
// src/model/model_family's.
#include <string_view>

namespace cocktail {

inline bool is_embedding_model_type(std::string_view type) {
  return type == "bert" || type == "xlm-roberta" || type == "roberta";
}

// A cross-encoder's (reranker's) head, as config.json's architectures[0]
// names it: *ForSequenceClassification.
inline bool is_sequence_classification(std::string_view architecture) {
  return architecture.ends_with("ForSequenceClassification");
}

}  // namespace cocktail
