#include "io/side_files.hpp"

#include <nlohmann/json.hpp>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"
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
    "chat_template.json",     "modules.json",     "config_sentence_transformers.json",
    "sentence_bert_config.json", "1_Pooling/config.json",
};

bool is_embedding_model(const nlohmann::ordered_json& config) {
  const std::string type = config.value("model_type", "");
  return type == "bert" || type == "xlm-roberta" || type == "roberta";
}

// CLS pooling and L2 normalisation: the embedding the few-shot loss scores.
std::vector<std::pair<std::string, std::string>> sentence_transformers_modules(
    const nlohmann::ordered_json& config) {
  const nlohmann::ordered_json modules = nlohmann::ordered_json::array({
      {{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
      {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}},
      {{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}},
  });
  const nlohmann::ordered_json pooling = {
      {"word_embedding_dimension", config.value("hidden_size", 0)},
      {"pooling_mode_cls_token", true},
      {"pooling_mode_mean_tokens", false},
      {"pooling_mode_max_tokens", false},
      {"pooling_mode_mean_sqrt_len_tokens", false},
      {"pooling_mode_weightedmean_tokens", false},
      {"pooling_mode_lasttoken", false},
      {"include_prompt", true},
  };
  const nlohmann::ordered_json bert_config = {
      {"max_seq_length", config.value("max_position_embeddings", 512)}, {"do_lower_case", false}};
  return {{"modules.json", modules.dump(2) + "\n"},
          {"1_Pooling/config.json", pooling.dump(2) + "\n"},
          {"sentence_bert_config.json", bert_config.dump(2) + "\n"},
          {"2_Normalize/.keep", ""}};
}

}  // namespace

SideFiles read_side_files(const fs::path& reference_folder, std::optional<DType> torch_dtype) {
  SideFiles files;
  const fs::path config = reference_folder / "config.json";
  if (fs::exists(config)) {
    nlohmann::ordered_json json;
    try {
      json = nlohmann::ordered_json::parse(
          read_small_file(config.string(), kMaxConfigJson),
          json_depth_limit<nlohmann::ordered_json>(config.string(), "JSON"));
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
    if (is_embedding_model(json) && !fs::is_regular_file(reference_folder / "modules.json"))
      files.generated = sentence_transformers_modules(json);
  }
  for (const char* name : kCopied)
    if (fs::is_regular_file(reference_folder / name)) files.copies.push_back(name);
  return files;
}

void stage_side_files(const fs::path& reference_folder, const SideFiles& files,
                      const fs::path& staging) {
  if (!files.config_json.empty()) write_staged_file(staging, "config.json", files.config_json);
  for (const auto& name : files.copies) {
    std::error_code ec;
    fs::create_directories((staging / name).parent_path(), ec);
    fs::copy_file(reference_folder / name, staging / name, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error((reference_folder / name).string() + ": cannot copy into the output: " + ec.message());
  }
  for (const auto& [name, contents] : files.generated) {
    std::error_code ec;
    fs::create_directories((staging / name).parent_path(), ec);
    if (ec) throw Error((staging / name).parent_path().string() + ": cannot create: " + ec.message());
    write_staged_file(staging, name, contents);
  }
}

}  // namespace cocktail
