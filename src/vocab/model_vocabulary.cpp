#include "vocab/model_vocabulary.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"
#include "io/json_file.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

// tokenizer.json of a 256k-token vocabulary with its merges is ~35 MB.
constexpr uint64_t kMaxTokenizerJson = 1ull << 30;

int64_t whole(const nlohmann::ordered_json& v, const std::string& label) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0) throw Error(label + ": not a token id");
  return v.get<int64_t>();
}

// config.json's vocab_size, at the top or in text_config (multimodal
// configs); 0 when it has none.
int64_t config_vocab_size(const fs::path& folder) {
  const fs::path p = folder / "config.json";
  if (!fs::is_regular_file(p)) return 0;
  const nlohmann::json cfg = read_json_object(p);
  for (const nlohmann::json* c : {&cfg, cfg.contains("text_config") ? &cfg["text_config"] : nullptr}) {
    if (!c || !c->is_object() || !c->contains("vocab_size")) continue;
    const nlohmann::json& v = (*c)["vocab_size"];
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) throw Error(p.string() + ": vocab_size is not a positive whole number");
    return v.get<int64_t>();
  }
  return 0;
}

}  // namespace

bool ModelVocabulary::is_added(const std::string& token) const {
  return std::any_of(added.begin(), added.end(), [&](const AddedToken& a) { return a.content() == token; });
}

int64_t ModelVocabulary::row(const std::string& token) const {
  const auto it = ids.find(token);
  return it != ids.end() && it->second < rows ? it->second : -1;
}

ModelVocabulary read_model_vocabulary(const fs::path& folder) {
  ModelVocabulary v;
  v.folder = folder;
  const fs::path file = folder / "tokenizer.json";
  if (!fs::is_regular_file(file))
    throw Error(file.string() + ": missing; merging vocabularies needs each model's tokenizer.json (a fast tokenizer)");
  const std::string label = file.string();
  v.tokenizer = parse_strict_ordered_json(read_small_file(label, kMaxTokenizerJson), label, "the tokenizer");
  if (!v.tokenizer.is_object() || !v.tokenizer.contains("model") || !v.tokenizer["model"].is_object())
    throw Error(label + ": not a tokenizer (no \"model\" object)");
  const nlohmann::ordered_json& vocab = v.tokenizer["model"].value("vocab", nlohmann::ordered_json());
  if (vocab.is_object()) {  // BPE, WordPiece, WordLevel: token -> id
    for (const auto& [token, id] : vocab.items()) v.model_tokens.emplace_back(token, whole(id, label + ": model.vocab." + token));
  } else if (vocab.is_array()) {  // Unigram: [piece, score] by id
    for (size_t i = 0; i < vocab.size(); ++i) {
      if (!vocab[i].is_array() || vocab[i].empty() || !vocab[i][0].is_string())
        throw Error(label + ": model.vocab[" + std::to_string(i) + "] is not a [piece, score] pair");
      v.model_tokens.emplace_back(vocab[i][0].get<std::string>(), static_cast<int64_t>(i));
    }
  } else {
    throw Error(label + ": model.vocab is neither a token map nor a Unigram list");
  }
  std::stable_sort(v.model_tokens.begin(), v.model_tokens.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [token, id] : v.model_tokens) v.ids.emplace(token, id);
  for (const auto& a : v.tokenizer.value("added_tokens", nlohmann::ordered_json::array())) {
    if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
      throw Error(label + ": an added_tokens entry without content and id");
    AddedToken t{whole(a["id"], label + ": added token " + a["content"].get<std::string>()), a};
    v.ids.emplace(t.content(), t.id);  // a token of the model keeps the model's id
    v.added.push_back(std::move(t));
  }
  v.rows = config_vocab_size(folder);
  if (v.rows == 0) v.rows = static_cast<int64_t>(v.ids.size());
  return v;
}

ModelVocabulary stripped(const ModelVocabulary& v) {
  std::set<std::string> unused;
  for (const auto& [token, id] : v.ids)
    if (id >= v.rows) unused.insert(token);
  if (unused.empty()) return v;
  const std::string label = (v.folder / "tokenizer.json").string();
  ModelVocabulary s = v;
  nlohmann::ordered_json& model = s.tokenizer["model"];
  std::erase_if(s.added, [&](const AddedToken& a) { return a.id >= v.rows; });
  std::erase_if(s.model_tokens, [&](const auto& t) { return t.second >= v.rows; });
  if (s.model_tokens.size() != v.model_tokens.size()) {
    if (model.value("type", "") != "BPE")
      throw Error(label + ": tokens with ids past vocab_size " + std::to_string(v.rows) +
                  " in a " + model.value("type", std::string("untyped")) + " model; only BPE ones can be dropped (as mergekit)");
    for (const std::string& t : unused) model["vocab"].erase(t);
    // A merge that builds a dropped token goes too.
    nlohmann::ordered_json kept = nlohmann::ordered_json::array();
    for (const auto& m : model.value("merges", nlohmann::ordered_json::array())) {
      std::vector<std::string> parts;
      if (m.is_string()) {
        const std::string text = m.get<std::string>();
        const size_t space = text.find(' ');
        parts = {text.substr(0, space), space == std::string::npos ? "" : text.substr(space + 1)};
      } else if (m.is_array()) {
        for (const auto& p : m) parts.push_back(p.is_string() ? p.get<std::string>() : "");
      }
      if (std::none_of(parts.begin(), parts.end(), [&](const std::string& p) { return unused.count(p); })) kept.push_back(m);
    }
    model["merges"] = std::move(kept);
  }
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (const AddedToken& a : s.added) added.push_back(a.entry);
  s.tokenizer["added_tokens"] = std::move(added);
  std::erase_if(s.ids, [&](const auto& kv) { return kv.second >= v.rows; });
  return s;
}

}  // namespace cocktail
