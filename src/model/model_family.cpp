#include "model/model_family.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/model_kind.hpp"
#include "io/json_file.hpp"

namespace cocktail {

namespace {

struct Known {
  const char* model_type;
  ModelKind kind;
};
// Alphabetical, as messages list them. An encoder with a
// *ForSequenceClassification head is a reranker.
constexpr Known kSupported[] = {
    {"bert", ModelKind::Encoder},        {"gemma2", ModelKind::Decoder},
    {"gemma3_text", ModelKind::Decoder}, {"llama", ModelKind::Decoder},
    {"mistral", ModelKind::Decoder},     {"mixtral", ModelKind::Decoder},
    {"mt5", ModelKind::EncoderDecoder},  {"phi3", ModelKind::Decoder},
    {"qwen2", ModelKind::Decoder},       {"qwen3", ModelKind::Decoder},
    {"qwen3_moe", ModelKind::Decoder},   {"t5", ModelKind::EncoderDecoder},
    {"xlm-roberta", ModelKind::Encoder},
};

// Families users merge that the few-shot forward does not run yet: named as
// such, so the message says "not yet" rather than "unknown".
constexpr const char* kNotYet[] = {
    "gemma", "gemma3", "umt5", "bart", "roberta", "qwen2_moe", "deepseek_v3", "phi",
};

}  // namespace

std::string supported_model_types() {
  std::string out;
  for (const Known& k : kSupported) out += (out.empty() ? "" : ", ") + std::string(k.model_type);
  return out;
}

ModelFamily read_model_family(const std::filesystem::path& folder) {
  const std::filesystem::path config = folder / "config.json";
  const std::string label = config.string();
  if (!std::filesystem::is_regular_file(config))
    throw Error(label + ": no such file (few-shot weights read the model's kind from it)");
  const nlohmann::json root = read_json_object(config);
  const auto type = root.find("model_type");
  if (type == root.end() || !type->is_string())
    throw Error(label + ": no \"model_type\" string (supported: " + supported_model_types() + ")");
  ModelFamily family{type->get<std::string>(), "", ModelKind::Decoder};
  if (const auto a = root.find("architectures"); a != root.end() && !a->is_null()) {
    if (!a->is_array() || a->empty() || !(*a)[0].is_string())
      throw Error(label + ": \"architectures\" is not a list of class names");
    family.architecture = (*a)[0].get<std::string>();
  }
  const std::string named =
      "model_type '" + family.model_type +
      (family.architecture.empty() ? "'" : "' (" + family.architecture + ")");
  for (const Known& k : kSupported) {
    if (family.model_type != k.model_type) continue;
    family.kind = k.kind;
    // One model_type, several heads: only the heads whose loss we compute.
    const std::string& arch = family.architecture;
    if (k.kind == ModelKind::Encoder && is_sequence_classification(arch))
      family.kind = ModelKind::Reranker;
    if (k.kind == ModelKind::Decoder && !arch.empty() && !arch.ends_with("ForCausalLM"))
      throw Error(label + ": " + named + " is not a causal LM; few-shot weights score " +
                  family.model_type + " as *ForCausalLM");
    if (k.kind == ModelKind::EncoderDecoder && !arch.empty() && !arch.ends_with("ForConditionalGeneration"))
      throw Error(label + ": " + named + " is not a text-to-text model; few-shot weights score " +
                  family.model_type + " as *ForConditionalGeneration");
    return family;
  }
  for (const char* t : kNotYet) {
    if (family.model_type == t)
      throw Error(label + ": " + named + " is not supported by few-shot weights yet (supported: " +
                  supported_model_types() + "; merging it with fixed weights works)");
  }
  throw Error(label + ": " + named + " is unknown to few-shot weights (supported: " +
              supported_model_types() + ")");
}

}  // namespace cocktail
