#include "io/side_files.hpp"

#include <nlohmann/json.hpp>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/output_folder.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

constexpr uint64_t kMaxConfigJson = 64 << 20;

// Copied as they are when the reference folder has them.
constexpr const char* kCopied[] = {
    "generation_config.json", "tokenizer.json",   "tokenizer_config.json",
    "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt",              "vocab.txt",        "added_tokens.json",
    "sentencepiece.bpe.model", "spiece.model",     "chat_template.jinja",
    "chat_template.json",
};

}  // namespace

SideFiles read_side_files(const fs::path& reference_folder, std::optional<DType> torch_dtype) {
  SideFiles files;
  const fs::path config = reference_folder / "config.json";
  if (fs::exists(config)) {
    nlohmann::ordered_json json;
    try {
      json = nlohmann::ordered_json::parse(read_small_file(config.string(), kMaxConfigJson));
    } catch (const nlohmann::json::exception& e) {
      throw Error(config.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!json.is_object()) throw Error(config.string() + ": not a JSON object");
    if (torch_dtype) {
      json["torch_dtype"] = std::string(torch_name(*torch_dtype));
      // Recent transformers write "dtype" instead; keep both in step.
      if (json.contains("dtype")) json["dtype"] = json["torch_dtype"];
    }
    files.config_json = json.dump(2) + "\n";
  }
  for (const char* name : kCopied)
    if (fs::is_regular_file(reference_folder / name)) files.copies.push_back(reference_folder / name);
  return files;
}

void stage_side_files(const SideFiles& files, const fs::path& staging) {
  if (!files.config_json.empty()) write_staged_file(staging, "config.json", files.config_json);
  for (const auto& from : files.copies) {
    std::error_code ec;
    fs::copy_file(from, staging / from.filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(from.string() + ": cannot copy into the output: " + ec.message());
  }
}

}  // namespace cocktail
