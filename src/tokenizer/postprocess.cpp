#include "tokenizer/postprocess.hpp"

#include "core/error.hpp"

namespace cocktail::tok {

namespace {

constexpr std::string_view kSupported =
    "BertProcessing, ByteLevel, RobertaProcessing, Sequence, TemplateProcessing";

// One piece of a template: special token ids, or sequence A or B, with the
// token type its ids get.
struct TemplatePiece {
  enum Kind { Special, A, B } kind = Special;
  std::vector<int64_t> ids;  // Special
  int64_t type_id = 0;
};

class Template final : public PostProcessor {
 public:
  Template(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair)
      : single_(std::move(single)), pair_(std::move(pair)) {}

  void add_special_tokens(std::vector<int64_t>& ids) const override {
    ids = apply(single_, ids, {}).ids;
  }
  Encoded add_special_tokens(const std::vector<int64_t>& a,
                             const std::vector<int64_t>& b) const override {
    return apply(pair_, a, b);
  }
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const TemplatePiece& p : pair ? pair_ : single_) n += p.ids.size();
    return n;
  }

 private:
  static Encoded apply(const std::vector<TemplatePiece>& pieces, const std::vector<int64_t>& a,
                       const std::vector<int64_t>& b) {
    Encoded out;
    for (const TemplatePiece& p : pieces) {
      const std::vector<int64_t>& ids = p.kind == TemplatePiece::A ? a : p.kind == TemplatePiece::B ? b : p.ids;
      out.ids.insert(out.ids.end(), ids.begin(), ids.end());
      out.type_ids.insert(out.type_ids.end(), ids.size(), p.type_id);
    }
    return out;
  }

  std::vector<TemplatePiece> single_, pair_;
};

class NoChange final : public PostProcessor {
 public:
  void add_special_tokens(std::vector<int64_t>&) const override {}
  Encoded add_special_tokens(const std::vector<int64_t>& a,
                             const std::vector<int64_t>& b) const override {
    return plain_pair(a, b);
  }
  size_t added_tokens(bool) const override { return 0; }
};

class Sequence final : public PostProcessor {
 public:
  Sequence(const json& j, const JsonAt& at) : at_(at) {
    const json& list = required(j, "processors", at);
    if (!list.is_array()) at["processors"].fail("expected a list");
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], at["processors"].item(i));
      if (p) steps_.push_back(std::move(p));
    }
  }

  void add_special_tokens(std::vector<int64_t>& ids) const override {
    for (const auto& step : steps_) step->add_special_tokens(ids);
  }
  // A pair goes through the one step that adds tokens (real files chain
  // ByteLevel, which adds none, with one template).
  Encoded add_special_tokens(const std::vector<int64_t>& a,
                             const std::vector<int64_t>& b) const override {
    const PostProcessor* adding = nullptr;
    for (const auto& step : steps_) {
      if (step->added_tokens(true) == 0) continue;
      if (adding) at_.fail("more than one step adds special tokens to a pair; not supported");
      adding = step.get();
    }
    return adding ? adding->add_special_tokens(a, b) : plain_pair(a, b);
  }
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const auto& step : steps_) n += step->added_tokens(pair);
    return n;
  }

 private:
  JsonAt at_;
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

// ["[CLS]", 101]: the id.
int64_t token_pair_id(const json& j, std::string_view key, const JsonAt& at) {
  const json& v = required(j, key, at);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string()) {
    at[key].fail("expected [\"token\", id]");
  }
  return required_id(v[1], at[key].item(1));
}

std::vector<TemplatePiece> read_template(const json& j, const std::string& key, bool pair, const JsonAt& at) {
  const json& list = required(j, key, at);
  if (!list.is_array()) at[key].fail("expected a list");
  const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
  if (!specials.is_object()) at["special_tokens"].fail("expected an object");
  std::vector<TemplatePiece> pieces;
  bool seen_a = false, seen_b = false;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    const JsonAt here = at[key].item(i);
    TemplatePiece p;
    const char* kind = item.is_object() && item.contains("Sequence")       ? "Sequence"
                       : item.is_object() && item.contains("SpecialToken") ? "SpecialToken"
                                                                            : nullptr;
    if (!kind) here.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    const json& body = item[kind];
    if (const auto t = body.find("type_id"); t != body.end()) p.type_id = required_id(*t, here[kind]["type_id"]);
    const std::string id = required_string(body, "id", here[kind]);
    if (std::string(kind) == "Sequence") {
      if (id != "A" && (id != "B" || !pair))
        here.fail(std::string("a ") + (pair ? "pair" : "single-sequence") + " template can only hold " +
                  (pair ? "$A and $B" : "$A") + ", not $" + id);
      bool& seen = id == "A" ? seen_a : seen_b;
      if (seen) here.fail("$" + id + " appears twice");
      seen = true;
      p.kind = id == "A" ? TemplatePiece::A : TemplatePiece::B;
    } else {
      if (!specials.contains(id)) here.fail("special token '" + id + "' is not in \"special_tokens\"");
      const JsonAt st = at["special_tokens"][id];
      const json& ids = required(specials[id], "ids", st);
      if (!ids.is_array()) st["ids"].fail("expected a list of ids");
      for (size_t k = 0; k < ids.size(); ++k) p.ids.push_back(required_id(ids[k], st["ids"].item(k)));
    }
    pieces.push_back(std::move(p));
  }
  // Without $A (or $B) a sequence's own ids would be dropped; tokenizers refuses such a template.
  if (!seen_a) at[key].fail("template has no $A");
  if (pair && !seen_b) at[key].fail("template has no $B");
  return pieces;
}

std::unique_ptr<PostProcessor> make_template(const json& j, const JsonAt& at) {
  std::vector<TemplatePiece> single = read_template(j, "single", false, at);
  // A file without "pair" cannot encode pairs; tokenizers then appends B.
  std::vector<TemplatePiece> pair = j.contains("pair") && !j["pair"].is_null()
                                ? read_template(j, "pair", true, at)
                                : std::vector<TemplatePiece>{};
  if (pair.empty()) {
    pair = single;
    pair.push_back({TemplatePiece::B, {}, 1});
  }
  return std::make_unique<Template>(std::move(single), std::move(pair));
}

// BERT: [CLS] A [SEP] B [SEP] with B's part of type 1; RoBERTa:
// <s> A </s> </s> B </s>, all of type 0 (as tokenizers gives them).
std::unique_ptr<PostProcessor> make_cls_sep(const json& j, const JsonAt& at, bool roberta) {
  const int64_t cls = token_pair_id(j, "cls", at), sep = token_pair_id(j, "sep", at);
  std::vector<TemplatePiece> single = {{TemplatePiece::Special, {cls}, 0}, {TemplatePiece::A, {}, 0}, {TemplatePiece::Special, {sep}, 0}};
  std::vector<TemplatePiece> pair = single;
  if (roberta) {
    pair.insert(pair.end(), {{TemplatePiece::Special, {sep}, 0}, {TemplatePiece::B, {}, 0}, {TemplatePiece::Special, {sep}, 0}});
  } else {
    pair.insert(pair.end(), {{TemplatePiece::B, {}, 1}, {TemplatePiece::Special, {sep}, 1}});
  }
  return std::make_unique<Template>(std::move(single), std::move(pair));
}

}  // namespace

Encoded plain_pair(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  Encoded out{a, std::vector<int64_t>(a.size(), 0)};
  out.ids.insert(out.ids.end(), b.begin(), b.end());
  out.type_ids.insert(out.type_ids.end(), b.size(), 1);
  return out;
}

std::unique_ptr<PostProcessor> make_post_processor(const json& config, const JsonAt& at) {
  if (config.is_null()) return nullptr;
  const std::string type = component_type(config, at);
  if (type == "TemplateProcessing") return make_template(config, at);
  if (type == "BertProcessing") return make_cls_sep(config, at, false);
  if (type == "RobertaProcessing") return make_cls_sep(config, at, true);
  if (type == "ByteLevel") return std::make_unique<NoChange>();
  if (type == "Sequence") return std::make_unique<Sequence>(config, at);
  unsupported_type(at, type, kSupported);
}

}  // namespace cocktail::tok
