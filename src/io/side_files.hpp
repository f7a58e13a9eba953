#pragma once
// The non-weight files of a Hugging Face folder that loaders need:
// config.json (with torch_dtype set to what we wrote), generation config and
// tokenizer files, taken from the reference model.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace cocktail {

// File names copied as they are when the reference folder has them.
const std::vector<std::string>& copied_side_files();

// Copies the side files of `reference_folder` into `staging`; `torch_dtype`,
// when set, replaces config.json's torch_dtype. Throws cocktail::Error naming
// a config.json that is not a JSON object.
void stage_side_files(const std::filesystem::path& reference_folder,
                      const std::filesystem::path& staging, std::optional<DType> torch_dtype);

}  // namespace cocktail
