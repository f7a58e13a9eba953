// Reads a merge job from YAML and validates all of it before any rank touches
// a checkpoint: a typo found after an hour of reads is an hour lost. Every
// error is one line, "FILE:LINE: key 'a.b[i].c': problem", so that editors
// and humans can jump to the spot and MPI logs stay readable.
#include "config/job.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "io/file.hpp"

namespace cocktail {
namespace fs = std::filesystem;
namespace {

// A job description is a few KB; anything near this is the wrong file.
constexpr uint64_t kMaxConfigBytes = 16 << 20;

// ---- messages -------------------------------------------------------------

// Values and keys are quoted into one-line messages; block scalars could
// otherwise break the line, and a pasted tensor dump would drown it.
std::string one_line(std::string_view text) {
  constexpr size_t kMax = 80;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  if (text.size() > kMax) out += "...";
  return out;
}

class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(int line, std::string_view problem) const {
    throw Error(file_ + ":" + std::to_string(line) + ": " + std::string(problem));
  }
  std::string where(int line, std::string_view key) const {
    return file_ + ":" + std::to_string(line) + ": key '" + one_line(key) + "'";
  }
  [[noreturn]] void fail(int line, std::string_view key, std::string_view problem) const {
    fail(line, "key '" + one_line(key) + "': " + std::string(problem));
  }

 private:
  std::string file_;
};

// yaml-cpp counts lines from 0 and gives null nodes no mark at all.
int line_of(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

// The line where a second YAML document starts, if there is one. yaml-cpp
// 0.7's LoadAll never returns on some malformed input (a lone ',' gives empty
// documents forever, jbeder/yaml-cpp#1040), so the job is read with Load, which
// stops after the first document, and this pass stops after the second.
std::optional<int> second_document_line(const std::string& text) {
  struct DocumentStarts : YAML::EventHandler {
    int count = 0;
    int second_line = 0;
    void OnDocumentStart(const YAML::Mark& mark) override {
      if (++count == 2) second_line = mark.line + 1;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } starts;
  std::istringstream in(text);
  YAML::Parser parser(in);
  while (starts.count < 2 && parser.HandleNextDocument(starts)) {
  }
  return starts.count < 2 ? std::nullopt : std::optional<int>(starts.second_line);
}

// ---- one value ------------------------------------------------------------

struct Field {
  std::string key;  // dotted path from the root: "models[1].parameters.weight"
  YAML::Node value;
  int key_line = 1;
  int line() const { return line_of(value, key_line); }
};

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Sequence: return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "'" + one_line(node.Scalar()) + "'";
  }
}

[[noreturn]] void fail_expected(const Reporter& r, const Field& f, std::string_view expected) {
  r.fail(f.line(), f.key, "must be " + std::string(expected) + ", got " + describe(f.value));
}

std::string scalar(const Reporter& r, const Field& f, std::string_view expected) {
  if (!f.value.IsScalar()) fail_expected(r, f, expected);
  return f.value.Scalar();
}

// YAML 1.2 core-schema numbers; a leading '+' is legal YAML that from_chars
// does not take.
std::string_view unsigned_text(std::string_view s) {
  return !s.empty() && s.front() == '+' ? s.substr(1) : s;
}

double finite_number(const Reporter& r, const Field& f) {
  constexpr std::string_view kExpected = "a finite number";
  const std::string text = scalar(r, f, kExpected);
  const std::string_view s = unsigned_text(text);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    fail_expected(r, f, kExpected);
  }
  return value;
}

bool parse_number_text(const std::string& text) {
  const std::string_view s = unsigned_text(text);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() && std::isfinite(value);
}

// The merge multiplies in float32: a weight (as the merge uses it, after
// normalizing) that float32 turns into Inf, or into 0 when it is not 0,
// would silently give a wrong model. `f` is the key the weight came from.
void check_float32_weight(const Reporter& r, const Field& f, double used, bool normalized) {
  const float as_float = static_cast<float>(used);
  if (!std::isinf(as_float) && (used == 0 || as_float != 0)) return;
  std::ostringstream v;
  v << used;
  r.fail(f.line(), f.key,
         "must give a weight float32 can hold (magnitude between 1.4e-45 and 3.4e38, or 0), got " +
             describe(f.value) + (normalized ? ", " + v.str() + " once normalized" : std::string()));
}

long long whole_number(const Reporter& r, const Field& f, long long min, long long max) {
  const std::string bounds = max == std::numeric_limits<int>::max()
                                 ? ">= " + std::to_string(min)
                                 : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  const std::string expected = "a whole number " + bounds;
  const std::string text = scalar(r, f, expected);
  const std::string_view s = unsigned_text(text);
  long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < min ||
      value > max) {
    fail_expected(r, f, expected);
  }
  return value;
}

bool boolean(const Reporter& r, const Field& f) {
  bool value = false;
  if (!f.value.IsScalar() || !YAML::convert<bool>::decode(f.value, value)) {
    fail_expected(r, f, "true or false");
  }
  return value;
}

uint64_t byte_size(const Reporter& r, const Field& f) {
  const std::string text = scalar(r, f, "a byte size such as 5GB, 512MiB or 4096");
  try {
    return parse_byte_size(text);
  } catch (const std::invalid_argument& e) {
    r.fail(f.line(), f.key, e.what());
  }
}

DType float_dtype(const Reporter& r, const Field& f) {
  constexpr std::string_view kExpected =
      "one of bfloat16, float16, float32, float64, float8_e4m3fn, float8_e5m2";
  const std::optional<DType> t = dtype_from_torch_name(scalar(r, f, kExpected));
  if (!t || !is_mergeable_float(*t)) fail_expected(r, f, kExpected);
  return *t;
}

// Relative to the config file's folder, so a job runs the same from any
// working directory (sbatch scripts rarely start where the config lives).
fs::path resolve_path(const Reporter& r, const Field& f, const fs::path& config_dir) {
  const std::string text = scalar(r, f, "a path");
  if (text.empty()) fail_expected(r, f, "a path");
  fs::path p = (config_dir / text).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  return p;
}

fs::path existing_path(const Reporter& r, const Field& f, const fs::path& config_dir) {
  const fs::path p = resolve_path(r, f, config_dir);
  std::error_code ec;
  if (fs::exists(p, ec)) return p;
  if (ec && ec != std::errc::no_such_file_or_directory) {
    r.fail(f.line(), f.key, "cannot access " + p.string() + ": " + ec.message());
  }
  r.fail(f.line(), f.key,
         "no such file or folder: " + p.string() + " (written '" + one_line(f.value.Scalar()) +
             "'; relative paths start at the config file's folder; hub ids are not downloaded)");
}

// A model as mergekit writes it: a path, or "PATH+ADAPTER" for a base with
// a PEFT LoRA adapter. A path that exists as written is a path, '+' and all.
ModelSpec model_reference(const Reporter& r, const Field& f, const fs::path& config_dir, ModelRole role, int line) {
  ModelSpec spec{{}, role, std::nullopt, line, {}, {}};
  const auto [base, adapter] = split_adapter_reference(scalar(r, f, "a path"), config_dir);
  if (adapter.empty()) {
    spec.path = existing_path(r, f, config_dir);
    return spec;
  }
  spec.path = existing_path(r, Field{f.key, YAML::Node(base), f.line()}, config_dir);
  spec.adapter = existing_path(r, Field{f.key, YAML::Node(adapter), f.line()}, config_dir);
  return spec;
}

// ---- one mapping ----------------------------------------------------------

// The entries of a YAML mapping in file order. yaml-cpp keeps duplicate keys
// and answers lookups with the first, so a repeated key would silently lose
// its second value; it is rejected here instead.
class Mapping {
 public:
  Mapping(const Reporter& r, const Field& self) : r_(r), line_(self.line()) {
    if (self.value.IsNull()) return;  // "parameters:" with nothing is an empty mapping
    if (!self.value.IsMap()) fail_expected(r, self, "a mapping of keys");
    for (const auto& kv : self.value) {
      const int key_line = line_of(kv.first, line_);
      if (!kv.first.IsScalar()) r.fail(key_line, self.key, "keys must be plain names");
      Field f{join(self.key, kv.first.Scalar()), kv.second, key_line};
      for (const auto& [name, seen] : entries_) {
        if (name == kv.first.Scalar()) {
          r.fail(key_line, f.key, "appears twice (first on line " +
                                      std::to_string(seen.key_line) + ")");
        }
      }
      entries_.emplace_back(kv.first.Scalar(), std::move(f));
    }
  }

  int line() const { return line_; }
  const std::vector<std::pair<std::string, Field>>& entries() const { return entries_; }
  std::optional<Field> get(std::string_view name) const {
    const Field* f = find(name);
    return f ? std::optional<Field>(*f) : std::nullopt;
  }

  // Rejects the first key, in file order, that is not in `known`.
  void check_known(std::initializer_list<std::string_view> known, std::string_view context) const {
    for (const auto& [name, f] : entries_) {
      bool ok = false;
      for (std::string_view k : known) ok = ok || k == name;
      if (ok) continue;
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      r_.fail(f.key_line, f.key, "unknown key" + std::string(context) + " (allowed: " + list + ")");
    }
  }

  static std::string join(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "." + name;
  }

 private:
  const Field* find(std::string_view name) const {
    for (const auto& [n, f] : entries_) {
      if (n == name) return &f;
    }
    return nullptr;
  }

  const Reporter& r_;
  int line_;
  std::vector<std::pair<std::string, Field>> entries_;
};

// ---- the job --------------------------------------------------------------

MergeMethod read_method(const Reporter& r, const Mapping& root, Job& job) {
  const std::optional<Field> f = root.get("merge_method");
  if (!f) r.fail(root.line(), "merge_method", "missing (for example linear, lm_cocktail, ties)");
  constexpr std::string_view kExpected = "a method name such as linear, lm_cocktail or ties";
  job.method_name = scalar(r, *f, kExpected);
  if (job.method_name.empty()) fail_expected(r, *f, kExpected);
  job.method_where = r.where(f->line(), f->key);
  // With slices, linear's weights are per tensor: the method of
  // src/merge/methods/linear.cpp, the same sum as the core recipe.
  if (job.method_name == "linear") return root.get("slices") ? MergeMethod::Registered : MergeMethod::Linear;
  if (job.method_name == "lm_cocktail") return MergeMethod::LmCocktail;
  // Checked against src/merge/methods/ once the job is read.
  return MergeMethod::Registered;
}

// ---- method parameters, kept as written ------------------------------------

SettingValue setting_value(const Reporter& r, const Field& f) {
  SettingValue v;
  v.where = r.where(f.line(), f.key);
  if (f.value.IsScalar()) {
    v.items.push_back(f.value.Scalar());
    return v;
  }
  if (!f.value.IsSequence() || f.value.size() == 0)
    fail_expected(r, f, "a value or a non-empty list of values (a gradient over the layers)");
  v.gradient = true;
  for (size_t i = 0; i < f.value.size(); ++i) {
    const Field item{f.key + "[" + std::to_string(i) + "]", f.value[i], f.line()};
    v.items.push_back(scalar(r, item, "a value"));
  }
  return v;
}

SettingCondition setting_condition(const Reporter& r, const Field& f) {
  const Mapping m(r, f);
  m.check_known({"filter", "value"}, " in a conditional parameter");
  SettingCondition c;
  if (auto filter = m.get("filter")) c.filter = scalar(r, *filter, "a substring of tensor names");
  const std::optional<Field> value = m.get("value");
  if (!value) r.fail(m.line(), Mapping::join(f.key, "value"), "missing");
  c.value = setting_value(r, *value);
  return c;
}

// mergekit's three forms: a value, a gradient list, or filter conditions.
Setting read_setting(const Reporter& r, const std::string& name, const Field& f) {
  Setting s;
  s.name = name;
  s.where = r.where(f.line(), f.key);
  const bool conditions = (f.value.IsMap()) ||
                          (f.value.IsSequence() && f.value.size() > 0 && f.value[0].IsMap());
  if (!conditions) {
    s.conditions.push_back({std::nullopt, setting_value(r, f)});
    return s;
  }
  s.conditional = true;
  if (f.value.IsMap()) {
    s.conditions.push_back(setting_condition(r, f));
    return s;
  }
  for (size_t i = 0; i < f.value.size(); ++i) {
    const Field item{f.key + "[" + std::to_string(i) + "]", f.value[i], f.line()};
    if (!item.value.IsMap()) fail_expected(r, item, "a {filter, value} mapping like the other entries");
    s.conditions.push_back(setting_condition(r, item));
  }
  return s;
}

Settings read_settings(const Reporter& r, const Field& f) {
  Settings out;
  const Mapping m(r, f);
  for (const auto& [name, field] : m.entries()) out.push_back(read_setting(r, name, field));
  return out;
}

// Collects models in Job order and keeps each checkpoint once: the same
// weights counted twice would skew the merge without any visible sign.
class ModelList {
 public:
  ModelList(const Reporter& r, std::vector<ModelSpec>& out) : r_(r), out_(out) {}

  // Index of an already listed model, however it was spelled: a folder, its
  // model.safetensors or its index, through a symlink or not.
  // A base with an adapter is another model than the base alone, and than
  // the base with another adapter.
  std::optional<size_t> find(const ModelSpec& m) const {
    const fs::path identity = checkpoint_identity(m.path);
    for (size_t i = 0; i < out_.size(); ++i) {
      std::error_code ec;
      const bool same_adapter = out_[i].adapter.empty() == m.adapter.empty() &&
                                (m.adapter.empty() || out_[i].adapter == m.adapter ||
                                 fs::equivalent(out_[i].adapter, m.adapter, ec));
      if (same_adapter && (out_[i].path == m.path || fs::equivalent(checkpoint_identity(out_[i].path), identity, ec)))
        return i;
    }
    return std::nullopt;
  }

  void add(const Field& f, ModelSpec spec) {
    if (std::optional<size_t> i = find(spec)) {
      r_.fail(f.line(), f.key, "the model " + spec.name() + " is already listed as '" +
                                   seen_[*i].first + "' on line " +
                                   std::to_string(seen_[*i].second) +
                                   "; each model may appear once");
    }
    out_.push_back(std::move(spec));
    seen_.emplace_back(f.key, f.line());
  }

  // The base listed again under `models`: later repeats are reported there.
  void seen_again(size_t i, const Field& f) { seen_[i] = {f.key, f.line()}; }

 private:
  const Reporter& r_;
  std::vector<ModelSpec>& out_;
  std::vector<std::pair<std::string, int>> seen_;  // key and line of each model
};

// A `models` entry's model: `model`, and its adapter from "PATH+ADAPTER" or
// the entry's `lora` key.
ModelSpec entry_reference(const Reporter& r, const Mapping& entry, const Field& model, const fs::path& dir) {
  ModelSpec spec = model_reference(r, model, dir, ModelRole::Peer, model.line());
  if (auto lora = entry.get("lora")) {
    if (!spec.adapter.empty())
      r.fail(lora->line(), lora->key, "the model already names an adapter after '+'; give it once");
    spec.adapter = existing_path(r, *lora, dir);
  }
  return spec;
}

void read_linear(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  std::optional<double> global_weight;
  std::optional<Field> global_field;
  if (std::optional<Field> p = root.get("parameters")) {
    const Mapping params(r, *p);
    params.check_known({"normalize", "weight"}, " for linear");
    if (auto f = params.get("normalize")) job.normalize = boolean(r, *f);
    if ((global_field = params.get("weight"))) global_weight = finite_number(r, *global_field);
  }
  std::vector<std::optional<Field>> weight_fields;  // aligned with job.models, for messages
  if (auto f = root.get("target")) {
    r.fail(f->key_line, f->key, "not used by linear; list every model under 'models'");
  }

  ModelList list(r, job.models);
  bool base_weighted = false;
  if (auto f = root.get("base_model")) {
    list.add(*f, model_reference(r, *f, dir, ModelRole::Base, f->line()));
    weight_fields.emplace_back();
  }

  const std::optional<Field> models = root.get("models");
  if (!models) r.fail(root.line(), "models", "missing: linear needs at least one model");
  if (!models->value.IsSequence() || models->value.size() == 0) {
    fail_expected(r, *models, "a non-empty list of {model: PATH, parameters: {weight: W}}");
  }
  for (size_t i = 0; i < models->value.size(); ++i) {
    const Field item{models->key + "[" + std::to_string(i) + "]", models->value[i],
                     models->line()};
    if (!item.value.IsMap()) fail_expected(r, item, "a mapping with a 'model' key");
    const Mapping entry(r, item);
    entry.check_known({"model", "lora", "parameters"}, "");
    const std::optional<Field> model = entry.get("model");
    if (!model) r.fail(entry.line(), Mapping::join(item.key, "model"), "missing");

    std::optional<double> weight = global_weight;
    std::optional<Field> weight_field = global_field;
    if (auto p = entry.get("parameters")) {
      const Mapping params(r, *p);
      params.check_known({"weight"}, " for a linear model entry");
      if (auto w = params.get("weight")) {
        weight = finite_number(r, *w);
        weight_field = w;
      }
    }
    if (!weight) {
      r.fail(entry.line(), Mapping::join(item.key, "parameters.weight"),
             "missing, and there is no global parameters.weight");
    }

    ModelSpec spec = entry_reference(r, entry, *model, dir);
    const std::optional<size_t> same = list.find(spec);
    // mergekit lets the base take part in a linear merge by listing it under
    // `models` too; it stays one model, the base, with that weight.
    if (same && *same == 0 && job.models[0].role == ModelRole::Base && !base_weighted) {
      job.models[0].weight = weight;
      weight_fields[0] = weight_field;
      base_weighted = true;
      list.seen_again(0, *model);
      continue;
    }
    spec.weight = weight;
    list.add(*model, std::move(spec));
    weight_fields.push_back(weight_field);
  }

  double sum = 0;
  for (const ModelSpec& m : job.models) sum += m.weight.value_or(0.0);
  if (job.normalize && sum == 0) {
    r.fail(models->key_line, "parameters.normalize",
           "the weights sum to 0, so they cannot be normalized; set normalize: false");
  }
  // As merge/recipe.cpp computes them: in double, then rounded to float32.
  for (size_t i = 0; i < job.models.size(); ++i)
    if (job.models[i].weight)
      check_float32_weight(r, *weight_fields[i], job.normalize ? *job.models[i].weight / sum : *job.models[i].weight,
                           job.normalize);
}

// Reads `models` entries for lm_cocktail: peers, candidates for few-shot
// weights. Their weights come from the examples, so none may be given.
void read_peers(const Reporter& r, const Field& models, const fs::path& dir, ModelList& list) {
  if (!models.value.IsSequence() || models.value.size() == 0)
    fail_expected(r, models, "a non-empty list of {model: PATH}");
  for (size_t i = 0; i < models.value.size(); ++i) {
    const Field item{models.key + "[" + std::to_string(i) + "]", models.value[i], models.line()};
    if (!item.value.IsMap()) fail_expected(r, item, "a mapping with a 'model' key");
    const Mapping entry(r, item);
    entry.check_known({"model", "lora"}, " for an lm_cocktail peer (its weight comes from the examples)");
    const std::optional<Field> model = entry.get("model");
    if (!model) r.fail(entry.line(), Mapping::join(item.key, "model"), "missing");
    list.add(*model, entry_reference(r, entry, *model, dir));
  }
}

// LM-Cocktail's three forms (paper section 2):
//   no examples:            alpha * target + (1 - alpha) * base        (Eq. 3)
//   examples and a target:  alpha * target + (1 - alpha) * sum w_i M_i (Eq. 1)
//   examples, no target:    sum w_i M_i over base and peers            (Eq. 4, and the
//                           authors' mix_models_with_data)
void read_lm_cocktail(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  std::optional<Field> alpha_field;
  if (std::optional<Field> p = root.get("parameters")) {
    const Mapping params(r, *p);
    params.check_known({"alpha"}, " for lm_cocktail");
    if (auto f = params.get("alpha")) {
      job.alpha = finite_number(r, *f);
      if (job.alpha < 0 || job.alpha > 1) fail_expected(r, *f, "a number in [0, 1]");
      check_float32_weight(r, *f, job.alpha, false);
      alpha_field = f;
    }
  }
  const std::optional<Field> base = root.get("base_model");
  const std::optional<Field> target = root.get("target");
  const std::optional<Field> models = root.get("models");
  const bool examples = root.get("examples").has_value();

  ModelList list(r, job.models);
  if (base) list.add(*base, model_reference(r, *base, dir, ModelRole::Base, base->line()));
  if (target) list.add(*target, model_reference(r, *target, dir, ModelRole::Target, target->line()));

  if (!examples) {
    if (models)
      r.fail(models->key_line, models->key,
             "peer models are weighted by few-shot examples: add 'examples'");
    if (!base) r.fail(root.line(), "base_model", "missing: lm_cocktail without examples mixes a target with its base");
    if (!target) r.fail(root.line(), "target", "missing: lm_cocktail without examples mixes a target with its base");
    return;
  }
  if (models) read_peers(r, *models, dir, list);
  if (!base && !models)
    r.fail(root.line(), "models", "missing: examples weigh candidates, list them under base_model and models");
  if (!target && alpha_field)
    r.fail(alpha_field->line(), alpha_field->key, "alpha mixes in a target model: add 'target' or drop alpha");
}

// mergekit's `slices`: each source a model and its layer_range [begin, end);
// a model named in several slices is one model of the job.
void read_slices(const Reporter& r, const Field& slices, const fs::path& dir, ModelList& list, Job& job) {
  if (!slices.value.IsSequence() || slices.value.size() == 0)
    fail_expected(r, slices, "a non-empty list of {sources: [{model: PATH, layer_range: [BEGIN, END]}]}");
  for (size_t i = 0; i < slices.value.size(); ++i) {
    const Field item{slices.key + "[" + std::to_string(i) + "]", slices.value[i], slices.line()};
    if (!item.value.IsMap()) fail_expected(r, item, "a mapping with a 'sources' key");
    const Mapping entry(r, item);
    if (auto f = entry.get("base_model"))
      r.fail(f->key_line, f->key, "a slice's own base_model is not supported yet (docs/methods.md, Not yet)");
    if (auto f = entry.get("residual_weight"))
      r.fail(f->key_line, f->key,
             "mergekit 0.1.5 reads residual_weight but never uses it; remove it: the merge is the same without it");
    entry.check_known({"sources", "parameters"}, " for a slice");
    Slice slice;
    slice.where = r.where(item.line(), item.key);
    if (auto p = entry.get("parameters")) slice.parameters = read_settings(r, *p);
    const std::optional<Field> sources = entry.get("sources");
    if (!sources) r.fail(entry.line(), Mapping::join(item.key, "sources"), "missing");
    if (!sources->value.IsSequence() || sources->value.size() == 0)
      fail_expected(r, *sources, "a non-empty list of {model: PATH, layer_range: [BEGIN, END]}");
    for (size_t j = 0; j < sources->value.size(); ++j) {
      const Field src{sources->key + "[" + std::to_string(j) + "]", sources->value[j], sources->line()};
      if (!src.value.IsMap()) fail_expected(r, src, "a mapping with 'model' and 'layer_range'");
      const Mapping se(r, src);
      se.check_known({"model", "layer_range", "parameters"}, " for a slice source");
      const std::optional<Field> model = se.get("model"), range = se.get("layer_range");
      if (!model) r.fail(se.line(), Mapping::join(src.key, "model"), "missing");
      if (!range) r.fail(se.line(), Mapping::join(src.key, "layer_range"), "missing");
      if (!range->value.IsSequence() || range->value.size() != 2)
        fail_expected(r, *range, "[BEGIN, END]: the layers BEGIN to END - 1");
      SliceSource source;
      source.begin = whole_number(r, Field{range->key + "[0]", range->value[0], range->line()}, 0, 1'000'000);
      source.end = whole_number(r, Field{range->key + "[1]", range->value[1], range->line()}, 0, 1'000'000);
      if (source.end <= source.begin)
        r.fail(range->line(), range->key, "must be [BEGIN, END] with BEGIN < END, got [" + std::to_string(source.begin) +
                                              ", " + std::to_string(source.end) + "]");
      source.where = r.where(range->line(), range->key);
      if (auto p = se.get("parameters")) source.parameters = read_settings(r, *p);
      ModelSpec spec = model_reference(r, *model, dir, ModelRole::Peer, model->line());
      if (const std::optional<size_t> seen = list.find(spec)) {
        source.model = *seen;
      } else {
        source.model = job.models.size();
        list.add(*model, spec);
      }
      for (const SliceSource& other : slice.sources)
        if (other.model == source.model)
          r.fail(model->line(), model->key, "the model " + spec.name() + " is already a source of this slice");
      slice.sources.push_back(std::move(source));
    }
    job.slices.push_back(std::move(slice));
  }
}

// A method of src/merge/methods/ (ties, dare_linear, ...): models and
// parameters as mergekit writes them; the method checks the values.
void read_registered(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  const bool examples = root.get("examples").has_value();
  if (auto p = root.get("parameters")) job.parameters = read_settings(r, *p);
  // With examples, LM-Cocktail's weights: softmax(-loss / T) over the models
  // under `models`, and an optional target mixed in with alpha. Without, an
  // alpha is the method's own (ramplus_tl), checked by the method.
  const auto alpha = std::find_if(job.parameters.begin(), job.parameters.end(),
                                  [](const Setting& s) { return s.name == "alpha"; });
  if (alpha != job.parameters.end() && examples) {
    if (!root.get("target"))
      throw Error(alpha->where + ": alpha mixes in a target with few-shot weights: add 'target' and 'examples'");
    const SettingValue& v = alpha->conditions[0].value;
    if (alpha->conditional || v.gradient || v.items.size() != 1)
      throw Error(alpha->where + ": must be one number in [0, 1]");
    job.alpha = std::strtod(v.items[0].c_str(), nullptr);
    if (!parse_number_text(v.items[0]) || job.alpha < 0 || job.alpha > 1)
      throw Error(alpha->where + ": must be a number in [0, 1], got '" + one_line(v.items[0]) + "'");
    job.parameters.erase(alpha);
  }
  if (examples)
    if (const Setting* w = find_setting(job.parameters, "weight"))
      throw Error(w->where + ": the weights come from the examples (softmax(-loss / temperature)); remove it");
  ModelList list(r, job.models);
  if (auto f = root.get("base_model"))
    list.add(*f, model_reference(r, *f, dir, ModelRole::Base, f->line()));
  if (auto f = root.get("target")) {
    if (!examples)
      r.fail(f->key_line, f->key, "not used by " + job.method_name + " without examples; list every model under 'models'");
    list.add(*f, model_reference(r, *f, dir, ModelRole::Target, f->line()));
  }
  const std::optional<Field> models = root.get("models");
  if (auto slices = root.get("slices")) {
    if (models) r.fail(models->key_line, models->key, "give either 'models' or 'slices', not both");
    if (examples) r.fail(slices->key_line, slices->key, "few-shot weights with slices are not supported yet");
    read_slices(r, *slices, dir, list, job);
    if (auto f = root.get("random_seed"))
      job.random_seed = static_cast<uint64_t>(whole_number(r, *f, 0, std::numeric_limits<long long>::max()));
    return;
  }
  if (!models) r.fail(root.line(), "models", "missing: " + job.method_name + " needs at least one model (or 'slices')");
  if (!models->value.IsSequence() || models->value.size() == 0)
    fail_expected(r, *models, "a non-empty list of {model: PATH, parameters: {...}}");
  bool base_listed = false;
  for (size_t i = 0; i < models->value.size(); ++i) {
    const Field item{models->key + "[" + std::to_string(i) + "]", models->value[i], models->line()};
    if (!item.value.IsMap()) fail_expected(r, item, "a mapping with a 'model' key");
    const Mapping entry(r, item);
    entry.check_known({"model", "lora", "parameters"}, "");
    const std::optional<Field> model = entry.get("model");
    if (!model) r.fail(entry.line(), Mapping::join(item.key, "model"), "missing");
    Settings params;
    if (auto p = entry.get("parameters")) params = read_settings(r, *p);
    if (const Setting* w = find_setting(params, "weight"); w && examples)
      throw Error(w->where + ": the weights come from the examples (softmax(-loss / temperature)); remove it");
    ModelSpec spec = entry_reference(r, entry, *model, dir);
    // mergekit configs often list the base under `models` too; it stays the
    // base, and like mergekit its per-model parameters do not apply to it.
    const std::optional<size_t> same = list.find(spec);
    if (same && *same == 0 && job.models[0].role == ModelRole::Base && !base_listed) {
      base_listed = true;
      list.seen_again(0, *model);
      continue;
    }
    spec.parameters = std::move(params);
    list.add(*model, std::move(spec));
  }
  if (auto f = root.get("random_seed"))
    job.random_seed = static_cast<uint64_t>(whole_number(r, *f, 0, std::numeric_limits<long long>::max()));
  if (examples && std::none_of(job.models.begin(), job.models.end(),
                               [](const ModelSpec& m) { return m.role == ModelRole::Peer; }))
    r.fail(models->key_line, models->key, "the examples weigh the models listed here; list at least one besides the base");
}

// weights: softmax | search | greedy_soup, and the search's settings.
void read_weight_choice(const Reporter& r, const Mapping& root, const Job& job, FewShot& fs) {
  if (auto f = root.get("weights")) {
    const std::string v = scalar(r, *f, "softmax, search or greedy_soup");
    if (v == "softmax") fs.weights = WeightChoice::Softmax;
    else if (v == "search") fs.weights = WeightChoice::Search;
    else if (v == "greedy_soup") fs.weights = WeightChoice::GreedySoup;
    else fail_expected(r, *f, "softmax, search or greedy_soup");
    if (fs.weights != WeightChoice::Softmax && job.has_target())
      r.fail(f->key_line, f->key, "chooses every candidate's weight itself; remove 'target' (or use weights: softmax)");
  }
  if (auto f = root.get("held_out")) {
    fs.held_out = finite_number(r, *f);
    if (fs.held_out < 0 || fs.held_out >= 1) fail_expected(r, *f, "a fraction in [0, 1)");
  }
  // 0: nothing kept, every evaluation re-reads.
  auto bytes_or_zero = [&](const Field& f) { return f.value.IsScalar() && f.value.Scalar() == "0" ? 0 : byte_size(r, f); };
  if (auto f = root.get("cache")) fs.cache_bytes = bytes_or_zero(*f);
  if (auto f = root.get("gpu_cache")) fs.gpu_cache_bytes = bytes_or_zero(*f);
  if (auto f = root.get("pipeline")) {
    if (fs.weights == WeightChoice::Softmax)
      r.fail(f->key_line, f->key, "only used with 'weights: search' or 'weights: greedy_soup'");
    bool stages = false;
    if (!f->value.IsScalar() || f->value.Scalar() != "auto") {
      if (!f->value.IsScalar() || !YAML::convert<bool>::decode(f->value, stages)) fail_expected(r, *f, "auto, true or false");
      fs.pipeline = stages;
    }
  }
  const std::optional<Field> search = root.get("search");
  if (!search) return;
  if (fs.weights != WeightChoice::Search) r.fail(search->key_line, search->key, "only used with 'weights: search'");
  const Mapping m(r, *search);
  m.check_known({"algorithm", "budget", "bounds", "simplex", "l1", "seed", "layer_groups", "density"}, search->key);
  SearchSettings& s = fs.search;
  if (auto f = m.get("layer_groups")) {
    s.layer_groups = static_cast<int>(whole_number(r, *f, 1, 4096));
    // Merged as linear slices, which only lm_cocktail's weighted sum is.
    if (s.layer_groups > 1 && job.method == MergeMethod::Registered)
      r.fail(f->line(), f->key, "weights per layer group are merged as linear slices; with " + job.method_name +
                                    " give 1 (or use merge_method: lm_cocktail)");
  }
  if (auto f = m.get("density")) {
    if (!f->value.IsSequence() || f->value.size() != 2) fail_expected(r, *f, "[lower, upper] within (0, 1]");
    s.density_lower = finite_number(r, Field{f->key + "[0]", f->value[0], f->line()});
    s.density_upper = finite_number(r, Field{f->key + "[1]", f->value[1], f->line()});
    if (!(0 < s.density_lower && s.density_lower < s.density_upper && s.density_upper <= 1))
      r.fail(f->line(), f->key, "must be [lower, upper] with 0 < lower < upper <= 1");
    s.density_searched = true;
  }
  if (auto f = m.get("simplex")) s.simplex = boolean(r, *f);
  if (!s.simplex) s.lower = -1.5, s.upper = 1.5;
  if (auto f = m.get("algorithm")) {
    std::string names;
    for (const char* a : kSearchAlgorithms) names += (names.empty() ? "" : ", ") + std::string(a);
    s.algorithm = scalar(r, *f, "one of " + names);
    if (std::none_of(std::begin(kSearchAlgorithms), std::end(kSearchAlgorithms),
                     [&](const char* a) { return s.algorithm == a; }))
      fail_expected(r, *f, "one of " + names);
  }
  if (auto f = m.get("budget")) s.budget = static_cast<int>(whole_number(r, *f, 1, 1000000));
  if (auto f = m.get("l1")) {
    s.l1 = finite_number(r, *f);
    if (s.l1 < 0) fail_expected(r, *f, "a number >= 0");
  }
  if (auto f = m.get("seed"))
    s.seed = static_cast<uint64_t>(whole_number(r, *f, 0, std::numeric_limits<long long>::max()));
  if (auto f = m.get("bounds")) {
    if (!f->value.IsSequence() || f->value.size() != 2) fail_expected(r, *f, "[lower, upper]");
    s.lower = finite_number(r, Field{f->key + "[0]", f->value[0], f->line()});
    s.upper = finite_number(r, Field{f->key + "[1]", f->value[1], f->line()});
    s.bounds_given = true;
    if (!(s.lower < s.upper)) r.fail(f->line(), f->key, "lower must be below upper");
    // On the simplex every weight is in [0, 1] and they sum to 1: bounds
    // that leave no such recipe would make the search fail late.
    if (s.simplex && (s.upper <= 0 || s.lower >= 1))
      r.fail(f->line(), f->key, "no weights on the simplex (each in [0, 1], summing to 1) lie within these bounds");
    if (s.simplex && s.lower < 0)
      r.fail(f->line(), f->key, "weights on the simplex are >= 0; give a lower bound >= 0 (or simplex: false)");
  }
}

void read_fewshot(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  static constexpr const char* kKeys[] = {"temperature", "batch_size", "max_input_length", "neg_number", "seed",
                                          "loss_reduction", "weights", "search", "held_out", "cache", "gpu_cache",
                                          "pipeline"};
  const std::optional<Field> files = root.get("examples");
  if (!files) {
    for (const char* key : kKeys)
      if (auto f = root.get(key)) r.fail(f->key_line, f->key, "only used with 'examples'");
    return;
  }
  if (job.method == MergeMethod::Linear)
    r.fail(files->key_line, files->key,
           "few-shot examples weigh models for lm_cocktail and the methods of docs/methods.md, not linear");
  FewShot fs;
  if (files->value.IsSequence()) {
    if (files->value.size() == 0) fail_expected(r, *files, "a path or a non-empty list of paths");
    for (size_t i = 0; i < files->value.size(); ++i)
      fs.files.push_back(existing_path(
          r, Field{files->key + "[" + std::to_string(i) + "]", files->value[i], files->line()}, dir));
  } else {
    fs.files.push_back(existing_path(r, *files, dir));
  }
  if (auto f = root.get("temperature")) {
    fs.temperature = finite_number(r, *f);
    if (fs.temperature <= 0) fail_expected(r, *f, "a number > 0");
  }
  if (auto f = root.get("batch_size")) fs.batch_size = static_cast<int>(whole_number(r, *f, 1, 4096));
  if (auto f = root.get("max_input_length"))
    fs.max_input_length = static_cast<int>(whole_number(r, *f, 2, 1 << 20));
  if (auto f = root.get("neg_number")) fs.neg_number = static_cast<int>(whole_number(r, *f, 0, 4096));
  if (auto f = root.get("seed"))
    fs.seed = static_cast<uint64_t>(whole_number(r, *f, 0, std::numeric_limits<long long>::max()));
  if (auto f = root.get("loss_reduction")) {
    const std::string v = scalar(r, *f, "upstream or token_mean");
    if (v == "upstream") fs.reduction = LossReduction::Upstream;
    else if (v == "token_mean") fs.reduction = LossReduction::TokenMean;
    else fail_expected(r, *f, "upstream or token_mean");
  }
  read_weight_choice(r, root, job, fs);
  job.fewshot = std::move(fs);
}

void read_common(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  // out_dtype wins, but a bad `dtype` is still an error: it would mislead the
  // next reader of the file.
  if (auto f = root.get("dtype")) job.out_dtype = float_dtype(r, *f);
  if (auto f = root.get("out_dtype")) job.out_dtype = float_dtype(r, *f);
  if (auto f = root.get("output")) job.output = resolve_path(r, *f, dir);
  if (auto f = root.get("max_shard_size")) job.max_shard_size = byte_size(r, *f);
  if (auto f = root.get("output_format")) {
    const std::string v = scalar(r, *f, "auto, safetensors or keras");
    if (v == "auto") job.output_format = OutputChoice::Auto;
    else if (v == "safetensors") job.output_format = OutputChoice::Safetensors;
    else if (v == "keras") job.output_format = OutputChoice::Keras;
    else fail_expected(r, *f, "auto, safetensors or keras");
  }
  if (auto f = root.get("chunk_size")) {
    job.chunk_size = byte_size(r, *f);
    if (job.chunk_size < 1024) {
      r.fail(f->line(), f->key, "must be at least 1024 bytes, got " + describe(f->value));
    }
  }
  // More threads than this per rank is a typo, and would fail to start.
  constexpr long long kMaxThreads = 1024;
  if (auto f = root.get("threads")) job.threads = static_cast<int>(whole_number(r, *f, 0, kMaxThreads));
  if (auto f = root.get("io_threads")) {
    job.io_threads = static_cast<int>(whole_number(r, *f, 1, kMaxThreads));
  }
  if (auto f = root.get("prefetch")) job.prefetch = static_cast<int>(whole_number(r, *f, 1, 64));
  if (auto f = root.get("direct_writes")) job.direct_writes = boolean(r, *f);
  if (auto f = root.get("device")) {
    const std::string v = scalar(r, *f, "auto, cpu or cuda");
    if (v == "auto") job.device = DeviceChoice::Auto;
    else if (v == "cpu") job.device = DeviceChoice::Cpu;
    else if (v == "cuda") job.device = DeviceChoice::Cuda;
    else fail_expected(r, *f, "auto, cpu or cuda");
  }
  if (auto f = root.get("progress_interval")) {
    job.progress_interval = finite_number(r, *f);
    if (job.progress_interval < 0) fail_expected(r, *f, "a number of seconds >= 0");
  }
}

// ---- vocabularies: tokenizer_source / tokenizer ----------------------------

// A model a tokenizer key names: a path, which must be one of the merge's.
size_t merged_model(const Reporter& r, const Field& f, const fs::path& dir, Job& job) {
  const ModelSpec spec = model_reference(r, f, dir, ModelRole::Peer, f.line());
  if (std::optional<size_t> i = ModelList(r, job.models).find(spec)) return *i;
  r.fail(f.line(), f.key, "the model " + spec.name() + " is not one of this merge's models");
}

TokenEmbedding token_embedding(const Reporter& r, const Field& f, const fs::path& dir, Job& job) {
  TokenEmbedding e;
  e.where = r.where(f.line(), f.key);
  const Mapping m(r, f);
  m.check_known({"source", "force"}, " for a token");
  if (auto force = m.get("force")) e.force = boolean(r, *force);
  const std::optional<Field> src = m.get("source");
  if (!src || src->value.IsNull()) return e;
  e.has_source = true;
  if (src->value.IsScalar()) {
    e.model = merged_model(r, *src, dir, job);
    return e;
  }
  const Mapping sm(r, *src);
  sm.check_known({"kind", "model", "token_id", "token"}, " for a token source");
  const std::optional<Field> kind = sm.get("kind");
  if (!kind) r.fail(sm.line(), Mapping::join(src->key, "kind"), "missing (model_token or zero)");
  const std::string k = scalar(r, *kind, "model_token or zero");
  if (k == "zero") {
    e.kind = TokenEmbedding::Kind::Zero;
    return e;
  }
  if (k != "model_token") fail_expected(r, *kind, "model_token or zero");
  e.kind = TokenEmbedding::Kind::ModelToken;
  const std::optional<Field> model = sm.get("model"), id = sm.get("token_id"), token = sm.get("token");
  if (!model) r.fail(sm.line(), Mapping::join(src->key, "model"), "missing");
  e.model = merged_model(r, *model, dir, job);
  if (!id == !token) r.fail(sm.line(), src->key, "give one of token_id and token");
  if (id) e.token_id = whole_number(r, *id, 0, std::numeric_limits<int>::max());
  if (token) e.token = scalar(r, *token, "a token of the model's vocabulary");
  return e;
}

void read_tokenizer(const Reporter& r, const Mapping& root, const fs::path& dir, Job& job) {
  const std::optional<Field> short_form = root.get("tokenizer_source"), block = root.get("tokenizer");
  if (!short_form && !block) return;
  const Field& f = short_form ? *short_form : *block;
  if (short_form && block)
    r.fail(block->key_line, block->key, "give tokenizer_source or tokenizer, not both (as mergekit)");
  if (job.method == MergeMethod::LmCocktail || job.fewshot)
    r.fail(f.key_line, f.key, "few-shot weights need models of one vocabulary; use a method such as linear");
  if (!job.slices.empty())
    r.fail(f.key_line, f.key, "not supported with slices yet (docs/methods.md, Not yet)");
  TokenizerChoice t;
  t.where = r.where(f.key_line, f.key);
  std::optional<Field> source = short_form;
  if (block) {
    const Mapping m(r, *block);
    m.check_known({"source", "tokens", "pad_to_multiple_of"}, " in tokenizer");
    source = m.get("source");
    if (auto pad = m.get("pad_to_multiple_of"))
      t.pad_to_multiple_of = static_cast<uint64_t>(whole_number(r, *pad, 1, 1 << 20));
    if (auto tokens = m.get("tokens")) {
      const Mapping tm(r, *tokens);
      for (const auto& [token, value] : tm.entries()) t.tokens.emplace_back(token, token_embedding(r, value, dir, job));
    }
  }
  if (source) {
    const std::string v = scalar(r, *source, "base, union or the path of one of the models");
    if (v == "base") t.source = TokenizerChoice::Source::Base;
    else if (v == "union") t.source = TokenizerChoice::Source::Union;
    else {
      t.source = TokenizerChoice::Source::Model;
      t.model = merged_model(r, *source, dir, job);
    }
  }
  job.tokenizer = std::move(t);
}

}  // namespace

Job load_job(const fs::path& config_file) {
  const Reporter r(config_file.string());
  YAML::Node doc;
  std::optional<int> second_line;
  try {
    const std::string text = read_small_file(config_file.string(), kMaxConfigBytes);
    doc = YAML::Load(text);
    second_line = second_document_line(text);
  } catch (const YAML::Exception& e) {
    r.fail(e.mark.is_null() ? 1 : e.mark.line + 1, "YAML syntax error: " + one_line(e.msg));
  }
  if (doc.IsNull()) r.fail(1, "the config is empty");
  if (second_line) r.fail(*second_line, "more than one YAML document; a config holds one job");
  if (!doc.IsMap()) r.fail(line_of(doc, 1), "the config must be a mapping of keys");

  Job job;
  job.config_path = fs::absolute(config_file).lexically_normal();
  const fs::path dir = job.config_path.parent_path();
  const Mapping root(r, Field{"", doc, 1});
  // mergekit keys this version does not run yet: said plainly, not "unknown".
  root.check_known({"tokenizer_source", "tokenizer", "merge_method", "base_model", "target", "models", "slices", "parameters", "dtype",
                    "out_dtype", "output", "output_format", "max_shard_size", "chunk_size", "threads",
                    "io_threads", "prefetch", "direct_writes", "device", "progress_interval", "examples", "temperature",
                    "batch_size", "max_input_length", "neg_number", "seed", "loss_reduction", "random_seed",
                    "weights", "search", "held_out", "cache", "gpu_cache", "pipeline"},
                   "");
  job.method = read_method(r, root, job);
  if (auto f = root.get("slices"); f && job.method != MergeMethod::Registered)
    r.fail(f->key_line, f->key, "slices are not supported with " + job.method_name +
                                    " yet; they work with linear, passthrough and the methods of docs/methods.md");
  if (auto f = root.get("random_seed"); f && job.method != MergeMethod::Registered)
    r.fail(f->key_line, f->key, "seeds the random masks of dare and della; " + job.method_name + " draws none");
  if (job.method == MergeMethod::Linear) {
    read_linear(r, root, dir, job);
  } else if (job.method == MergeMethod::LmCocktail) {
    read_lm_cocktail(r, root, dir, job);
  } else {
    read_registered(r, root, dir, job);
  }
  read_fewshot(r, root, dir, job);
  read_common(r, root, dir, job);
  read_tokenizer(r, root, dir, job);
  return job;
}

std::string ModelSpec::name() const {
  return adapter.empty() ? path.string() : path.string() + "+" + adapter.string();
}

std::string ModelSpec::short_name() const {
  return adapter.empty() ? path.filename().string() : path.filename().string() + "+" + adapter.filename().string();
}

bool Job::has_target() const {
  for (const auto& m : models)
    if (m.role == ModelRole::Target) return true;
  return false;
}

std::vector<size_t> Job::candidates() const {
  std::vector<size_t> out;
  if (!fewshot) return out;
  // A task-vector method weighs the models' task vectors: the base has none.
  const bool base_too = method != MergeMethod::Registered;
  for (size_t i = 0; i < models.size(); ++i)
    if (models[i].role == ModelRole::Peer || (base_too && models[i].role == ModelRole::Base)) out.push_back(i);
  return out;
}

void set_candidate_parameters(Job& job, const std::vector<size_t>& models, const std::string& name,
                              const std::vector<double>& values, const std::string& why) {
  for (size_t i = 0; i < models.size(); ++i) {
    ModelSpec& m = job.models[models[i]];
    set_plain_setting(m.parameters, name, values[i], job.config_path.string() + ": " + why + " of " + m.name());
  }
}

Job with_candidate_recipe(const Job& job, const std::vector<size_t>& candidates, const std::vector<double>& weights,
                          const std::vector<double>& density) {
  Job out = job;
  set_candidate_parameters(out, candidates, "weight", weights, "searched weight");
  if (!density.empty()) set_candidate_parameters(out, candidates, "density", density, "searched density");
  return out;
}

uint64_t parse_byte_size(const std::string& text) {
  const auto bad = [&](std::string_view why) {
    return std::invalid_argument(std::string(why) + ", got '" + one_line(text) + "'");
  };
  constexpr std::string_view kForm =
      "must be a byte size: digits with an optional K, M, G, T (powers of 1000, also KB...TB) "
      "or KiB, MiB, GiB, TiB suffix";
  const size_t first = text.find_first_not_of(" \t");
  const size_t last = text.find_last_not_of(" \t");
  if (first == std::string::npos) throw bad(kForm);
  const std::string_view s = std::string_view(text).substr(first, last - first + 1);

  uint64_t count = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), count);
  if (end == s.data()) throw bad(kForm);  // no leading digits: "-1", "G", "1.5G" is caught below
  if (ec == std::errc::result_out_of_range) throw bad("is larger than 2^64 - 1 bytes");

  std::string suffix(end, s.data() + s.size());
  if (const size_t n = suffix.find_first_not_of(' '); n != std::string::npos) {
    suffix = suffix.substr(n);
  } else {
    suffix.clear();
  }
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Unit { std::string_view name; uint64_t factor; };
  // Hugging Face reads "5GB" as 5 * 10^9 (transformers' max_shard_size), so
  // the bare and B-suffixed forms are decimal; the IEC forms are binary.
  static constexpr Unit kUnits[] = {
      {"", 1},  {"b", 1},
      {"k", 1'000}, {"kb", 1'000}, {"m", 1'000'000}, {"mb", 1'000'000},
      {"g", 1'000'000'000}, {"gb", 1'000'000'000},
      {"t", 1'000'000'000'000}, {"tb", 1'000'000'000'000},
      {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30}, {"tib", 1ull << 40}};
  for (const Unit& u : kUnits) {
    if (suffix != u.name) continue;
    if (count > std::numeric_limits<uint64_t>::max() / u.factor) {
      throw bad("is larger than 2^64 - 1 bytes");
    }
    if (count == 0) throw bad("must be > 0");
    return count * u.factor;
  }
  throw bad(kForm);
}

}  // namespace cocktail
