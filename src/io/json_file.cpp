#include "io/json_file.hpp"

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"

namespace cocktail {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  // Model configs are a few KB; this only stops a wrong path from exhausting memory.
  constexpr uint64_t kMaxBytes = 64 << 20;
  const std::string text = read_small_file(path.string(), kMaxBytes);
  check_json_depth(text, path.string(), "JSON");
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  return root;
}

nlohmann::json read_json_object(const std::filesystem::path& path) {
  nlohmann::json root = read_json_file(path);
  if (!root.is_object()) throw Error(path.string() + ": not a JSON object");
  return root;
}

}  // namespace cocktail
