#pragma once
// The non-weight files of a Hugging Face folder that loaders need:
// config.json (with torch_dtype set to what we wrote), generation config and
// tokenizer files, taken from the reference model. They are read and checked
// before the merge, so a broken config.json cannot waste a long job.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace cocktail {

struct SideFiles {
  std::string config_json;                  // rewritten config.json; empty when there is none
  std::vector<std::filesystem::path> copies;  // relative to the reference folder, copied as they are
  // Written as they are (relative path -> contents): sentence-transformers
  // modules for an embedding model whose reference folder has none.
  std::vector<std::pair<std::string, std::string>> generated;
};

// Embedding models (bert, xlm-roberta, roberta) get sentence-transformers
// modules, so the output loads with SentenceTransformer(path) as the
// authors' package writes it: the reference's own modules when it has them,
// else CLS pooling then Normalize (how BGE embeds). Throws cocktail::Error
// naming a config.json that is not a JSON object.
SideFiles read_side_files(const std::filesystem::path& reference_folder,
                          std::optional<DType> torch_dtype);

void stage_side_files(const std::filesystem::path& reference_folder, const SideFiles& files,
                      const std::filesystem::path& staging);

}  // namespace cocktail
