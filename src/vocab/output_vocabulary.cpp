#include "vocab/output_vocabulary.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/file.hpp"
#include "io/json_strict.hpp"
#include "io/journal.hpp"
#include "plan/layer_names.hpp"
#include "vocab/model_vocabulary.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace cocktail {
namespace {

constexpr uint64_t kMaxTokenizerConfig = 64 << 20;

// The output tokenizer while it is built: tokenizers' AddedVocabulary rules
// (an added token already in the vocabulary keeps its id; a new one takes
// max(model vocabulary size, last added id + 1)).
struct Builder {
  Json doc;
  std::map<std::string, int64_t> ids;
  std::set<std::string> added;
  int64_t model_size = 0, next_added = -1;
  std::vector<std::pair<int64_t, Json>> new_entries;  // for tokenizer_config.json

  explicit Builder(const ModelVocabulary& v) : doc(v.tokenizer), ids(v.ids) {
    model_size = static_cast<int64_t>(v.model_tokens.size());
    for (const AddedToken& a : v.added) {
      added.insert(a.content());
      next_added = std::max(next_added, a.id);
    }
  }

  // transformers' add_tokens(entry): `entry` an added_tokens entry.
  void add(Json entry) {
    const std::string content = entry.at("content").get<std::string>();
    if (added.count(content)) return;
    int64_t id = 0;
    if (auto it = ids.find(content); it != ids.end()) {
      id = it->second;
    } else {
      id = next_added >= model_size ? next_added + 1 : model_size;
      ids.emplace(content, id);
    }
    next_added = std::max(next_added, id);
    added.insert(content);
    Json e = {{"id", id}};
    for (const char* k : {"content", "single_word", "lstrip", "rstrip", "normalized", "special"})
      e[k] = entry.contains(k) ? entry[k] : Json(false);
    doc["added_tokens"].push_back(e);
    new_entries.emplace_back(id, std::move(e));
  }

  // add_tokens("text"): a plain token, normalized, not special.
  void add_plain(const std::string& token) {
    add({{"content", token}, {"single_word", false}, {"lstrip", false}, {"rstrip", false}, {"normalized", true},
         {"special", false}});
  }
};

// tokenizer_config.json of the source folder with its added_tokens_decoder
// matching the output: entries past the stripped rows gone, new ones added.
std::string tokenizer_config(const fs::path& folder, int64_t keep_below, const Builder& b) {
  const fs::path p = folder / "tokenizer_config.json";
  if (!fs::is_regular_file(p)) return "";
  Json cfg = parse_strict_ordered_json(read_small_file(p.string(), kMaxTokenizerConfig), p.string(), "the tokenizer config");
  if (!cfg.is_object()) throw Error(p.string() + ": not a JSON object");
  if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    Json decoder = Json::object();
    for (const auto& [id, entry] : cfg["added_tokens_decoder"].items()) {
      int64_t n = 0;
      const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
      if (ec != std::errc() || end != id.data() + id.size())
        throw Error(p.string() + ": added_tokens_decoder key '" + id + "' is not a token id");
      if (n < keep_below) decoder[id] = entry;
    }
    for (const auto& [id, entry] : b.new_entries) {
      Json e = entry;
      e.erase("id");
      decoder[std::to_string(id)] = e;
    }
    cfg["added_tokens_decoder"] = std::move(decoder);
  }
  return cfg.dump(2) + "\n";
}

}  // namespace

bool is_vocabulary_tensor(const std::string& name) {
  if (layer_index(name)) return false;
  static const char* const kEndings[] = {
      "embed_tokens.weight", "lm_head.weight", "lm_head.bias", "wte.weight", "word_embeddings.weight",
      "embed_in.weight", "embed_out.weight", "shared.weight", "tok_embeddings.weight", "vocab_projector.weight",
      "vocab_projector.bias", "output_layer.weight", "lm_head.decoder.weight", "lm_head.linear.weight",
      "lm_head.linear.bias", "cls.predictions.bias"};
  for (const char* e : kEndings) {
    const std::string_view end(e);
    if (name.size() >= end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0 &&
        (name.size() == end.size() || name[name.size() - end.size() - 1] == '.'))
      return true;
  }
  return name == "output.weight";
}

OutputVocabulary build_output_vocabulary(const Job& job, const std::vector<fs::path>& folders,
                                         const std::vector<size_t>& merged) {
  const TokenizerChoice& choice = *job.tokenizer;
  // mergekit's base for the vocabulary: the base model, else the first.
  const size_t first = job.reference_index();
  const bool has_base = !job.models.empty() && job.models[first].role == ModelRole::Base &&
                        std::find(merged.begin(), merged.end(), first) != merged.end();
  std::vector<std::optional<ModelVocabulary>> vocab(job.models.size());
  auto vocabulary = [&](size_t m) -> const ModelVocabulary& {
    if (!vocab[m]) vocab[m] = m == first ? stripped(read_model_vocabulary(folders[m])) : read_model_vocabulary(folders[m]);
    return *vocab[m];
  };
  for (size_t m : merged) vocabulary(m);
  vocabulary(first);

  OutputVocabulary out;
  int64_t keep_below = vocabulary(first).rows;
  std::optional<Builder> b;
  if (choice.source == TokenizerChoice::Source::Model) {
    b.emplace(read_model_vocabulary(folders[choice.model]));
    out.source_folder = folders[choice.model];
    keep_below = INT64_MAX;
  } else {
    b.emplace(vocabulary(first));
    out.source_folder = folders[first];
  }
  if (choice.source == TokenizerChoice::Source::Union) {
    // mergekit walks each tokenizer's get_vocab(), a hash map's order; we
    // walk each model's tokens by id, so the new ids do not change from run
    // to run (docs/methods.md).
    std::vector<std::string> plain;
    std::set<std::string> plain_seen;
    std::vector<Json> added;
    std::set<std::string> added_seen;
    std::vector<size_t> order = {first};
    for (size_t m : merged)
      if (m != first) order.push_back(m);
    for (size_t m : order) {
      const ModelVocabulary& v = vocabulary(m);
      for (const auto& [token, id] : v.model_tokens)
        if (id < v.rows && !v.is_added(token) && plain_seen.insert(token).second) plain.push_back(token);
      std::vector<AddedToken> by_id = v.added;
      std::stable_sort(by_id.begin(), by_id.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
      for (const AddedToken& a : by_id)
        if (a.id < v.rows && added_seen.insert(a.content()).second) added.push_back(a.entry);
    }
    const ModelVocabulary& base = vocabulary(first);
    for (const std::string& t : plain)
      if (!added_seen.count(t) && !base.ids.count(t)) b->add_plain(t);
    for (const Json& a : added) b->add(a);
  }
  for (const auto& [token, cfg] : choice.tokens)
    if (!b->ids.count(token)) b->add_plain(token);

  // The output's ids must be 0..n-1: row i of the output is token id i.
  out.tokens.assign(b->ids.size(), std::string());
  std::vector<bool> seen(b->ids.size(), false);
  for (const auto& [token, id] : b->ids) {
    if (id < 0 || static_cast<size_t>(id) >= out.tokens.size() || seen[id])
      throw Error(choice.where + ": the output vocabulary's ids are not 0.." + std::to_string(out.tokens.size() - 1) +
                  " (token '" + token + "' has id " + std::to_string(id) + "); the tokenizers cannot be reconciled");
    seen[id] = true;
    out.tokens[id] = token;
  }
  out.rows = out.tokens.size();
  if (choice.pad_to_multiple_of && out.rows % choice.pad_to_multiple_of)
    out.rows += choice.pad_to_multiple_of - out.rows % choice.pad_to_multiple_of;

  std::map<std::string, const TokenEmbedding*> configured;
  for (const auto& [token, cfg] : choice.tokens) configured[token] = &cfg;
  auto is_merged = [&](size_t m) { return std::find(merged.begin(), merged.end(), m) != merged.end(); };

  out.models.resize(job.models.size());
  for (size_t m : merged) {
    out.models[m].rows_needed = vocabulary(m).rows;
    out.models[m].row.resize(out.tokens.size());
  }
  for (size_t id = 0; id < out.tokens.size(); ++id) {
    const std::string& token = out.tokens[id];
    const auto c = configured.find(token);
    const TokenEmbedding* cfg = c == configured.end() ? nullptr : c->second;
    std::vector<size_t> having;
    for (size_t m : merged) {
      const int64_t r = vocabulary(m).row(token);
      out.models[m].row[id] = r;
      if (r >= 0) having.push_back(m);
    }
    const bool force = cfg && cfg->force;
    if (!force && having.size() == merged.size()) continue;
    RowFill fill;
    if (cfg) {
      ++out.configured;
      if (!cfg->has_source)
        throw Error(cfg->where + ": token '" + token + "' needs a source (a model, {kind: model_token, ...} or {kind: zero}): " +
                    (force ? "force is set" : "not every model has it"));
      if (cfg->kind != TokenEmbedding::Kind::Zero) {
        if (!is_merged(cfg->model))
          throw Error(cfg->where + ": the model " + job.models[cfg->model].name() + " is not merged, so it has no row to give");
        const ModelVocabulary& donor = vocabulary(cfg->model);
        int64_t r = -1;
        if (cfg->kind == TokenEmbedding::Kind::Model) {
          r = donor.row(token);
          if (r < 0) throw Error(cfg->where + ": token '" + token + "' is not in " + job.models[cfg->model].name());
        } else if (cfg->token_id) {
          r = *cfg->token_id;
          if (r >= donor.rows)
            throw Error(cfg->where + ": token_id " + std::to_string(r) + " is past the " + std::to_string(donor.rows) +
                        " rows of " + job.models[cfg->model].name());
        } else {
          r = donor.row(cfg->token);
          if (r < 0) throw Error(cfg->where + ": token '" + cfg->token + "' is not in " + job.models[cfg->model].name());
        }
        fill.terms.emplace_back(cfg->model, r);
      }
    } else if (having.size() == 1) {
      ++out.from_one_model;
      fill.terms.emplace_back(having[0], vocabulary(having[0]).row(token));
    } else if (having.empty()) {
      ++out.zeros;
    } else if (has_base && vocabulary(first).row(token) >= 0) {
      ++out.from_base;
      fill.terms.emplace_back(first, vocabulary(first).row(token));
    } else {
      ++out.averaged;
      for (size_t m : having) fill.terms.emplace_back(m, vocabulary(m).row(token));
    }
    const int64_t index = -1 - static_cast<int64_t>(out.fills.size());
    out.fills.push_back(std::move(fill));
    for (size_t m : merged)
      if (force || out.models[m].row[id] < 0) out.models[m].row[id] = index;
  }

  out.tokenizer_json = b->doc.dump(2) + "\n";
  out.tokenizer_config_json = tokenizer_config(out.source_folder, keep_below, *b);
  return out;
}

uint64_t OutputVocabulary::fingerprint() const {
  std::vector<int64_t> words = {static_cast<int64_t>(rows), static_cast<int64_t>(tokens.size())};
  for (const RowFill& f : fills) {
    words.push_back(-static_cast<int64_t>(f.terms.size()));
    for (const auto& [m, r] : f.terms) words.insert(words.end(), {static_cast<int64_t>(m), r});
  }
  for (const ModelRows& m : models) words.insert(words.end(), m.row.begin(), m.row.end());
  return bytes_checksum(words.data(), words.size() * sizeof(int64_t));
}

std::string OutputVocabulary::summary() const {
  std::string s = std::to_string(tokens.size()) + " tokens";
  if (rows > tokens.size()) s += " (+" + std::to_string(rows - tokens.size()) + " padding rows, each model's mean row)";
  s += "; rows a model lacks: " + std::to_string(from_one_model) + " from the one model that has the token, " +
       std::to_string(from_base) + " from the base, " + std::to_string(averaged) + " averaged, " +
       std::to_string(zeros) + " zeros, " + std::to_string(configured) + " as tokenizer.tokens sets";
  return s;
}

}  // namespace cocktail
