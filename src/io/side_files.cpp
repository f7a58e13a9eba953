#include "io/side_files.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/output_folder.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

const std::vector<std::string>& copied_side_files() {
  static const std::vector<std::string> names = {
      "generation_config.json", "tokenizer.json",   "tokenizer_config.json",
      "special_tokens_map.json", "tokenizer.model", "vocab.json",
      "merges.txt",              "vocab.txt",        "added_tokens.json",
      "sentencepiece.bpe.model", "spiece.model",     "chat_template.jinja",
      "chat_template.json",
  };
  return names;
}

void stage_side_files(const fs::path& reference_folder, const fs::path& staging,
                      std::optional<DType> torch_dtype) {
  const fs::path config = reference_folder / "config.json";
  if (fs::exists(config)) {
    nlohmann::ordered_json json;
    try {
      json = nlohmann::ordered_json::parse(read_text(config));
    } catch (const nlohmann::json::exception& e) {
      throw Error(config.string() + ": not valid JSON: " + e.what());
    }
    if (!json.is_object()) throw Error(config.string() + ": not a JSON object");
    if (torch_dtype) {
      json["torch_dtype"] = std::string(torch_name(*torch_dtype));
      // Recent transformers write "dtype" instead; keep both in step.
      if (json.contains("dtype")) json["dtype"] = json["torch_dtype"];
    }
    write_staged_file(staging, "config.json", json.dump(2) + "\n");
  }
  for (const auto& name : copied_side_files()) {
    const fs::path from = reference_folder / name;
    if (!fs::is_regular_file(from)) continue;
    std::error_code ec;
    fs::copy_file(from, staging / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(from.string() + ": cannot copy into the output: " + ec.message());
  }
}

}  // namespace cocktail
