// Loading tokenizer.json and the encode pipeline, in tokenizers' order:
// added tokens matched in the raw text, each remaining stretch normalised,
// added tokens matched in the normalised text, the rest pre-tokenised into
// words, each word encoded by the model, then the post-processor's specials.
#include "tokenizer/tokenizer.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "io/json_strict.hpp"
#include "tokenizer/added.hpp"
#include "tokenizer/json.hpp"
#include "tokenizer/model.hpp"
#include "tokenizer/normalize.hpp"
#include "tokenizer/postprocess.hpp"
#include "tokenizer/pretokenize.hpp"

namespace cocktail {

using tok::json;
using tok::JsonAt;

struct Tokenizer::Impl {
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Model> model;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::unique_ptr<tok::AddedVocabulary> added;
};

namespace {

const json& member_or_null(const json& root, const char* key) {
  static const json kNull;
  const auto it = root.find(key);
  return it == root.end() ? kNull : *it;
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& label) {
  json root;
  // Normalizer and pre-tokenizer Sequences are read recursively.
  check_json_depth(json_text, label, "the tokenizer");
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(label + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw Error(label + ": expected a JSON object (a tokenizer.json)");
  if (!root.contains("model")) throw Error(label + ": no \"model\" (not a tokenizer.json?)");
  auto impl = std::make_shared<Impl>();
  impl->normalizer =
      tok::make_normalizer(member_or_null(root, "normalizer"), {label, "normalizer"});
  impl->pre_tokenizer =
      tok::make_pre_tokenizer(member_or_null(root, "pre_tokenizer"), {label, "pre_tokenizer"});
  impl->model = tok::make_model(root["model"], {label, "model"});
  impl->post_processor =
      tok::make_post_processor(member_or_null(root, "post_processor"), {label, "post_processor"});
  impl->added = std::make_unique<tok::AddedVocabulary>(member_or_null(root, "added_tokens"),
                                                       JsonAt{label, "added_tokens"}, *impl->model,
                                                       impl->normalizer.get());
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  const std::string label = tokenizer_json.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(tokenizer_json, ec)) {
    throw Error(label + (std::filesystem::exists(tokenizer_json, ec)
                             ? ": not a file"
                             : ": no such file (expected a tokenizer.json)"));
  }
  std::ifstream in(tokenizer_json, std::ios::binary);
  if (!in) throw Error(label + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(label + ": cannot read: " + std::strerror(errno));
  return from_json(text.str(), label);
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& t = *impl_;
  std::vector<int64_t> ids;
  std::vector<tok::Segment> raw, normalized;
  t.added->split(tok::decode_input(text), false, raw);
  for (auto& seg : raw) {
    if (seg.id) {
      normalized.push_back(std::move(seg));
      continue;
    }
    if (t.normalizer) t.normalizer->normalize(seg.text);
    t.added->split(seg.text, true, normalized);
  }
  std::vector<tok::Piece> words;
  for (auto& seg : normalized) {
    if (seg.id) {
      ids.push_back(*seg.id);
      continue;
    }
    words.clear();
    words.push_back(std::move(seg.text));
    if (t.pre_tokenizer) t.pre_tokenizer->pre_tokenize(words);
    for (const auto& w : words) t.model->tokenize(tok::to_utf8(w.chars), ids);
  }
  if (add_special_tokens && t.post_processor) t.post_processor->add_special_tokens(ids);
  return ids;
}

Tokenizer::Pair Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                       size_t max_length) const {
  std::vector<int64_t> first = encode(a, false), second = encode(b, false);
  const tok::PostProcessor* post = impl_->post_processor.get();
  const size_t added = post ? post->added_tokens(true) : 0;
  const size_t room = max_length > added ? max_length - added : 0;
  if (first.size() + second.size() > room) {
    // tokenizers' truncate_encodings, LongestFirst, with n1 the shorter side.
    size_t n1 = first.size(), n2 = second.size();
    const bool swap = n1 > n2;
    if (swap) std::swap(n1, n2);
    n2 = n1 > room ? n1 : std::max(n1, room - n1);
    if (n1 + n2 > room) {
      n1 = room / 2;
      n2 = n1 + room % 2;
    }
    if (swap) std::swap(n1, n2);
    first.resize(std::min(first.size(), n1));
    second.resize(std::min(second.size(), n2));
  }
  const tok::Encoded e = post ? post->add_special_tokens(first, second) : tok::plain_pair(first, second);
  return {e.ids, e.type_ids};
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto id = impl_->added->token_to_id(token)) return *id;
  if (const auto id = impl_->model->token_to_id(token)) return *id;
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  return impl_->model->vocab().size() + impl_->added->count_not_in(*impl_->model);
}

}  // namespace cocktail
