#include "tokenizer/postprocess.hpp"

namespace cocktail::tok {

namespace {

constexpr std::string_view kSupported =
    "BertProcessing, ByteLevel, RobertaProcessing, Sequence, TemplateProcessing";

// A template for one sequence: ids before and after $A.
class Around final : public PostProcessor {
 public:
  Around(std::vector<int64_t> before, std::vector<int64_t> after)
      : before_(std::move(before)), after_(std::move(after)) {}

  void add_special_tokens(std::vector<int64_t>& ids) const override {
    ids.insert(ids.begin(), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int64_t> before_, after_;
};

class NoChange final : public PostProcessor {
 public:
  void add_special_tokens(std::vector<int64_t>&) const override {}
};

class Sequence final : public PostProcessor {
 public:
  Sequence(const json& j, const JsonAt& at) {
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

 private:
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

std::unique_ptr<PostProcessor> make_template(const json& j, const JsonAt& at) {
  const json& single = required(j, "single", at);
  if (!single.is_array()) at["single"].fail("expected a list");
  const json& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
  if (!specials.is_object()) at["special_tokens"].fail("expected an object");
  std::vector<int64_t> before, after;
  bool seen_a = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const json& piece = single[i];
    const JsonAt here = at["single"].item(i);
    if (piece.is_object() && piece.contains("Sequence")) {
      const std::string id = required_string(piece["Sequence"], "id", here["Sequence"]);
      if (id != "A") here.fail("a single-sequence template can only hold $A, not $" + id);
      if (seen_a) here.fail("$A appears twice");
      seen_a = true;
    } else if (piece.is_object() && piece.contains("SpecialToken")) {
      const std::string name = required_string(piece["SpecialToken"], "id", here["SpecialToken"]);
      if (!specials.contains(name)) {
        here.fail("special token '" + name + "' is not in \"special_tokens\"");
      }
      const JsonAt st = at["special_tokens"][name];
      const json& ids = required(specials[name], "ids", st);
      if (!ids.is_array()) st["ids"].fail("expected a list of ids");
      for (size_t k = 0; k < ids.size(); ++k) {
        (seen_a ? after : before).push_back(required_id(ids[k], st["ids"].item(k)));
      }
    } else {
      here.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  // Without $A the sequence's own ids would be dropped; tokenizers refuses such a template.
  if (!seen_a) at["single"].fail("template has no $A");
  return std::make_unique<Around>(std::move(before), std::move(after));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& config, const JsonAt& at) {
  if (config.is_null()) return nullptr;
  const std::string type = component_type(config, at);
  if (type == "TemplateProcessing") return make_template(config, at);
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    return std::make_unique<Around>(std::vector<int64_t>{token_pair_id(config, "cls", at)},
                                    std::vector<int64_t>{token_pair_id(config, "sep", at)});
  }
  if (type == "ByteLevel") return std::make_unique<NoChange>();
  if (type == "Sequence") return std::make_unique<Sequence>(config, at);
  unsupported_type(at, type, kSupported);
}

}  // namespace cocktail::tok
