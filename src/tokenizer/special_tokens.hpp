#pragma once
// EOS and padding ids of a model folder, found as transformers finds them:
// tokenizer_config.json (or special_tokens_map.json) names the tokens, the
// tokenizer maps them to ids; config.json's ids are the fallback.
#include <cstdint>
#include <filesystem>

#include "tokenizer/tokenizer.hpp"

namespace cocktail {

struct SpecialIds {
  int64_t eos = -1;
  // The authors' code pads with the tokenizer's pad token; most decoder
  // tokenizers have none, and the usual workaround (pad = eos) is used then.
  int64_t pad = -1;
};

// Decoders need an EOS (throws cocktail::Error naming the folder when there is
// none) and pad with it when there is no pad token; encoders pad with their
// pad token (config.json's pad_token_id, else 0).
SpecialIds read_special_ids(const std::filesystem::path& folder, const Tokenizer& tokenizer,
                            bool decoder);

// Whether transformers gives the model token_type_ids with a pair: when
// tokenizer_config.json's model_input_names lists them, or, without that
// key, when its tokenizer_class is BERT's (transformers 5's fast default and
// XLM-R's tokenizer pass none, so every token is type 0).
bool passes_token_type_ids(const std::filesystem::path& folder);

}  // namespace cocktail
