#pragma once
// The output's vocabulary under mergekit's tokenizer_source / tokenizer
// (mergekit/tokenizer/build.py and embed.py), and for each merged model how
// its embedding rows become the output's: most rows are the model's own row
// of the same token; a token a model lacks (or a forced one) takes a row
// filled by the rule, the same for every model:
//   only one model has it        -> that model's row
//   the base has it              -> the base's row
//   several others have it       -> their mean, in torch's dtype arithmetic
//   no model has it              -> zeros
//   tokenizer.tokens.X.source    -> that model's row of X, or of another
//                                   token (model_token), or zeros
// Rows past the tokens (pad_to_multiple_of) are each model's mean row.
// Built from tokenizer.json and config.json files only; every rank builds
// the same one.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/job.hpp"

namespace cocktail {

// A row made of model rows: (model index in the job, row in that model's
// tensor). No terms: zeros; one: a copy; several: their mean.
struct RowFill {
  std::vector<std::pair<size_t, int64_t>> terms;
};

// How one model's vocabulary tensor becomes the output's.
struct ModelRows {
  // Per output token: the model's own row (>= 0), or -1 - i for fills[i].
  std::vector<int64_t> row;
  int64_t rows_needed = 0;  // the model's vocab_size: rows its tensors must have
};

struct OutputVocabulary {
  std::vector<std::string> tokens;  // by output id
  uint64_t rows = 0;                // tokens, padded to pad_to_multiple_of
  std::vector<RowFill> fills;       // shared by every model
  std::vector<ModelRows> models;    // by job model index; empty row list: not merged
  // Counts for the summary: tokens filled by each rule.
  size_t from_one_model = 0, from_base = 0, averaged = 0, zeros = 0, configured = 0;

  std::string tokenizer_json;         // the output's tokenizer.json
  std::string tokenizer_config_json;  // empty when the source folder has none
  std::filesystem::path source_folder;  // whose other tokenizer files come along

  // The source of output row `r` of model `m`'s tensor: its own row (>= 0),
  // -1 - fill index, or kMeanRow past the tokens.
  static constexpr int64_t kMeanRow = INT64_MIN;
  int64_t source_row(size_t m, uint64_t r) const {
    return r < tokens.size() ? models[m].row[r] : kMeanRow;
  }
  uint64_t fingerprint() const;
  std::string summary() const;  // "1040 tokens (+16 padding rows ...); rows a model lacks: ..."
};

// `folders` holds each job model's folder; `merged` the models whose
// tensors are merged (the recipe's), base first when there is one. Throws
// cocktail::Error naming the key or model for a token source that no merged
// model can give, or tokenizers that cannot be reconciled.
OutputVocabulary build_output_vocabulary(const Job& job, const std::vector<std::filesystem::path>& folders,
                                         const std::vector<size_t>& merged);

// Whether a tensor is indexed by token on its first axis: the embeddings
// and output heads of the architectures mergekit knows (outside the layers).
bool is_vocabulary_tensor(const std::string& name);

}  // namespace cocktail
