#pragma once
// Which forward scores a candidate, from its config.json (`model_type`, and
// `architectures` where one model_type serves several heads), decided before
// any weight or example is read, so an unsupported family is refused by name
// at once rather than by a missing tensor later.
#include <filesystem>
#include <string>

namespace cocktail {

enum class ModelKind {
  Decoder,  // causal LM: {input, output} examples, loss of the output tokens
  Encoder,   // embedding model: {query, pos, neg} examples, contrastive loss
  Reranker,  // cross-encoder (*ForSequenceClassification, one label): {query, pos, neg}
             // examples, each query's group of pair scores through a cross-entropy
  EncoderDecoder,  // *ForConditionalGeneration (t5, mt5): {input, output} examples, loss of the
                   // output tokens given the input
};

struct ModelFamily {
  std::string model_type;    // as config.json says it
  std::string architecture;  // architectures[0], or "" when absent
  ModelKind kind;
};

// Throws cocktail::Error "<folder>/config.json: model_type 'gemma2'
// (Gemma2ForCausalLM) is not supported by few-shot weights yet (supported: ...)",
// or names what is missing or malformed.
ModelFamily read_model_family(const std::filesystem::path& folder);

// "bert, llama, ..." for messages.
std::string supported_model_types();

}  // namespace cocktail
