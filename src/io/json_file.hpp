#pragma once
// A small JSON file that must hold an object (config.json, tokenizer
// configs): read, parsed, and refused with the file named when it is not.
#include <filesystem>
#include <nlohmann/json.hpp>

namespace cocktail {

// Throws cocktail::Error "PATH: not valid JSON (...)".
nlohmann::json read_json_file(const std::filesystem::path& path);

// read_json_file, and "PATH: not a JSON object" for any other value.
nlohmann::json read_json_object(const std::filesystem::path& path);

}  // namespace cocktail
