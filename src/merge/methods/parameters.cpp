#include "merge/methods/parameters.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <sstream>
#include <cmath>

#include "core/error.hpp"

namespace cocktail {
namespace {

// YAML 1.2 numbers as the config parser reads them.
std::optional<double> parse_number(std::string text) {
  if (!text.empty() && text.front() == '+') text.erase(0, 1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(const std::string& text) {
  bool v = false;
  if (!YAML::convert<bool>::decode(YAML::Node(text), v)) return std::nullopt;
  return v;
}

std::string type_text(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::Number: return "a finite number";
    case ParamType::Boolean: return "true or false";
    case ParamType::Choice: {
      std::string list;
      for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
      return "one of " + list;
    }
  }
  return "";
}

ParamValue parse_item(const ParamSpec& s, const std::string& text, const std::string& where) {
  ParamValue v;
  v.where = where;
  v.text = text;
  bool ok = false;
  switch (s.type) {
    case ParamType::Number:
      if (auto n = parse_number(text)) v.number = *n, ok = true;
      break;
    case ParamType::Boolean:
      if (auto b = parse_bool(text)) v.number = *b ? 1 : 0, ok = true;
      break;
    case ParamType::Choice:
      for (const auto& c : s.choices) ok = ok || c == text;
      break;
  }
  if (!ok) throw Error(where + ": must be " + type_text(s) + ", got '" + text + "'");
  return v;
}

// mergekit's interpolation, in double as Python computes it.
double interpolate(const std::vector<double>& v, double t) {
  const double scaled = t * double(v.size() - 1);
  const size_t i0 = static_cast<size_t>(scaled);
  const size_t i1 = std::min(v.size() - 1, i0 + 1);
  const double frac = scaled - double(i0);
  return (1 - frac) * v[i0] + frac * v[i1];
}

bool filter_matches(const std::optional<std::string>& filter, const std::string& tensor) {
  return !filter || *filter == "*" || (!tensor.empty() && tensor.find(*filter) != std::string::npos);
}

}  // namespace

std::string number_text(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

ParamResolver::ParamResolver(const Job& job, std::vector<ParamSpec> specs) : job_(job), specs_(std::move(specs)) {
  auto check = [&](const Settings& settings, bool model_level) {
    for (const Setting& s : settings) {
      const ParamSpec* found = nullptr;
      for (const auto& p : specs_)
        if (p.name == s.name) found = &p;
      if (!found) {
        std::string list;
        for (const auto& p : specs_) list += (list.empty() ? "" : ", ") + p.name;
        throw Error(s.where + ": unknown parameter for " + job.method_name + " (allowed: " + list + ")");
      }
      if (model_level && found->scope == ParamScope::Job)
        throw Error(s.where + ": " + s.name + " applies to the whole merge; set it under the top-level parameters");
      for (const SettingCondition& c : s.conditions) {
        if (c.value.gradient && found->type != ParamType::Number)
          throw Error(c.value.where + ": " + s.name + " cannot vary over the layers (it is " + type_text(*found) +
                      "); give one value");
        for (const std::string& item : c.value.items) parse_item(*found, item, c.value.where);
      }
    }
  };
  check(job.parameters, false);
  for (const ModelSpec& m : job.models) check(m.parameters, true);
  for (const Slice& slice : job.slices) {
    check(slice.parameters, false);
    for (const SliceSource& s : slice.sources) check(s.parameters, true);
  }
}

const ParamSpec& ParamResolver::spec(const std::string& name) const {
  for (const auto& p : specs_)
    if (p.name == name) return p;
  throw Error("internal: parameter '" + name + "' is not declared");
}

ParamValue ParamResolver::get(const std::string& name, const PlannedTensor& tensor,
                              std::optional<size_t> model) const {
  const ParamSpec& s = spec(name);
  std::vector<const Settings*> places;
  const Slice* slice = tensor.slice >= 0 ? &job_.slices[tensor.slice] : nullptr;
  if (model && s.scope == ParamScope::PerModel) {
    if (!slice) places.push_back(&job_.models[*model].parameters);
    if (slice)
      for (const SliceSource& src : slice->sources)
        if (src.model == *model) places.push_back(&src.parameters);
  }
  if (slice) places.push_back(&slice->parameters);
  places.push_back(&job_.parameters);
  // mergekit matches a per-model parameter's filters against that model's
  // own tensor name (with slices, its layer before renaming).
  const std::string* name_seen = &tensor.name;
  if (model && s.scope == ParamScope::PerModel)
    for (const TensorSource& src : tensor.sources)
      if (src.model == *model) name_seen = &src.tensor->info.name;
  return find(s, places, *name_seen, tensor.layer_position, model);
}

ParamValue ParamResolver::find(const ParamSpec& s, const std::vector<const Settings*>& places,
                               const std::string& tensor, double t, std::optional<size_t> model) const {
  const std::string& name = s.name;
  for (const Settings* place : places) {
    const Setting* setting = find_setting(*place, name);
    if (!setting) continue;
    for (const SettingCondition& c : setting->conditions) {
      if (!filter_matches(c.filter, tensor)) continue;
      if (!c.value.gradient) return parse_item(s, c.value.items[0], c.value.where);
      std::vector<double> values;
      for (const auto& item : c.value.items) values.push_back(parse_item(s, item, c.value.where).number);
      ParamValue v;
      v.number = interpolate(values, t);
      v.where = c.value.where;
      return v;
    }
  }
  if (!s.default_value) {
    const int line = model ? job_.models[*model].line : 1;
    throw Error(job_.config_path.string() + ":" + std::to_string(line) + ": key 'parameters." + name + "': missing" +
                (model ? " for " + job_.models[*model].name() : std::string()) + " (tensor '" + tensor +
                "'), and there is no top-level parameters." + name + " (" + s.doc + ")");
  }
  ParamValue v = parse_item(s, *s.default_value, "default");
  return v;
}

}  // namespace cocktail
