#pragma once
// The non-weight files of a Hugging Face folder that loaders need:
// config.json (with torch_dtype set to what we wrote), generation config and
// tokenizer files, sentence-transformers modules and remote code, taken from
// the reference model. They are read and checked before the merge, so a
// broken config.json cannot waste a long job.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.hpp"

namespace cocktail {

struct SideFiles {
  std::string config_json;                  // rewritten config.json; empty when there is none
  std::vector<std::filesystem::path> copies;  // relative to the reference folder, copied as they are
  std::vector<std::filesystem::path> folders;  // created empty (modules without files, as 2_Normalize)
  // Written as they are (relative path -> contents): sentence-transformers
  // modules for an embedding model whose reference folder has none.
  std::vector<std::pair<std::string, std::string>> generated;
  // Every other file of the reference folder (relative path, why), for the
  // report; at most 1,000, then one "..." entry.
  std::vector<std::pair<std::string, std::string>> not_copied;
  std::vector<std::string> warnings;  // remote code carried along
};

// Refuses, naming the file, a reference folder whose sentence-transformers
// modules (modules.json) hold weights of their own (a 2_Dense/ projection):
// cocktail merges the transformer's weights only, and an output without the
// module's weights would not load. read_side_files refuses them too; this
// says so before the few-shot step.
void check_side_files(const std::filesystem::path& folder);

// Every file cocktail may read from a model's folder besides its
// checkpoint: config.json, tokenizer and generation files, module files,
// remote code. What an --overwrite must never delete.
std::vector<std::filesystem::path> side_files_read(const std::filesystem::path& folder);

// Embedding models (bert, xlm-roberta, roberta) get sentence-transformers
// modules, so the output loads with SentenceTransformer(path) as the
// authors' package writes it: the reference's own modules when it has them,
// else CLS pooling then Normalize (how BGE embeds). A config.json with
// auto_map (remote code) brings the folder's .py files along, with a warning.
// Throws cocktail::Error naming a config.json that is not a JSON object.
SideFiles read_side_files(const std::filesystem::path& reference_folder,
                          std::optional<DType> torch_dtype);

// After slices: config.json's layer count (num_hidden_layers, or n_layer,
// n_layers, num_layers) becomes layers.size(), and each per-layer list
// (layer_types, no_rope_layers) takes entry l of the model folder that gives
// output layer (folder, l). Throws naming the config.json that lacks such a
// list, a folder without config.json, or a model of another hidden_size.
void restack_layers(SideFiles& files,
                    const std::vector<std::pair<std::filesystem::path, long>>& layers);

// Under a tokenizer choice: the output's tokenizer.json and
// tokenizer_config.json (`tokenizer_config` empty: none) replace the
// reference's tokenizer files, special_tokens_map.json comes from
// `tokenizer_folder`, a slow tokenizer's files (which would disagree with
// the new vocabulary) are left out, and config.json's vocab_size (or
// text_config's) becomes `vocab_size`.
void use_vocabulary(SideFiles& files, const std::filesystem::path& tokenizer_folder, const std::string& tokenizer_json,
                    const std::string& tokenizer_config, uint64_t vocab_size);

void stage_side_files(const std::filesystem::path& reference_folder, const SideFiles& files,
                      const std::filesystem::path& staging);

}  // namespace cocktail
