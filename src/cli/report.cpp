#include "cli/report.hpp"

#include <cmath>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/progress.hpp"
#include "core/dtype_names.hpp"

namespace cocktail {
namespace {

// The shortest tail of each model's path that no other model's path ends
// with: "ft-a" for folders, "run1/model.safetensors" for two single files
// of one name; "base+adapter" for a LoRA candidate (models of one base
// differ by their adapters).
std::vector<std::string> model_labels(const Job& job) {
  std::vector<std::vector<std::string>> parts;
  for (const auto& m : job.models) {
    std::vector<std::string> p;
    for (const auto& c : m.path) p.push_back(c.string());
    std::erase_if(p, [](const std::string& c) { return c.empty() || c == "/"; });
    parts.push_back(p);
  }
  std::vector<std::string> labels(job.models.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto tail = [&](size_t k, size_t n) {
      std::string s;
      for (size_t j = parts[k].size() - std::min(n, parts[k].size()); j < parts[k].size(); ++j)
        s += (s.empty() ? "" : "/") + parts[k][j];
      return s;
    };
    for (size_t n = 1; n <= parts[i].size(); ++n) {
      labels[i] = tail(i, n);
      bool unique = true;
      for (size_t k = 0; k < parts.size() && unique; ++k)
        unique = k == i || parts[k] == parts[i] || tail(k, n) != labels[i];
      if (unique) break;
    }
    if (!job.models[i].adapter.empty()) labels[i] += "+" + job.models[i].adapter.filename().string();
  }
  return labels;
}


// The shortest decimal that reads back as the same float32 (0.3, not
// 0.300000012).
std::string float32_text(float v) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
  return std::string(text, end);
}

// That decimal as a JSON number: 0.3 in the report rather than the double
// nearest to the float32 (0.30000001192092896).
double float32_json(float v) { return std::stod(float32_text(v)); }

const char* role_name(ModelRole role) {
  switch (role) {
    case ModelRole::Base: return "base";
    case ModelRole::Target: return "target";
    case ModelRole::Peer: return "model";
  }
  return "model";
}

// NaN/Inf counts per summed model, and for the output as the last entry,
// with the first tensor where each was seen.
struct NonfiniteCount {
  uint64_t count = 0;
  std::string first_tensor;
};

std::vector<NonfiniteCount> nonfinite_counts(const MergeRecipe& recipe, const MergePlan& plan,
                                             const JobTotals& totals) {
  const size_t columns = recipe.models.size() + 1;
  std::vector<NonfiniteCount> by(columns);
  for (size_t t = 0; t < plan.tensors.size(); ++t)
    for (size_t s = 0; s < columns; ++s) {
      const auto n = static_cast<uint64_t>(totals.nonfinite[t * columns + s]);
      if (n > 0 && by[s].first_tensor.empty()) by[s].first_tensor = plan.tensors[t].name;
      by[s].count += n;
    }
  return by;
}

}  // namespace

std::string weights_text(const Job& job, const MergeRecipe& recipe) {
  const std::vector<std::string> labels = model_labels(job);
  std::string s;
  if (!recipe.description.empty()) {
    const bool base = job.models[recipe.models[0]].role == ModelRole::Base;
    if (base) s = "base " + labels[recipe.models[0]] + "; ";
    s += "models";
    for (size_t i = base ? 1 : 0; i < recipe.models.size(); ++i)
      s += (i > (base ? 1u : 0u) ? ", " : " ") + labels[recipe.models[i]];
    return s + "; " + recipe.description;
  }
  for (size_t i = 0; i < recipe.models.size(); ++i)
    s += (i ? ", " : "") + labels[recipe.models[i]] + "=" + float32_text(recipe.weights[i]);
  return s;
}

void print_plan(std::ostream& out, const Job& job, const MergeRecipe& recipe,
                const MergePlan& plan, int ranks) {
  const std::vector<std::string> labels = model_labels(job);
  out << "plan: " << job.method_name << " of " << recipe.models.size() << " models ("
      << weights_text(job, recipe) << ")\n";
  size_t merged = 0;
  for (const auto& t : plan.tensors) merged += t.action == TensorAction::Merge;
  out << "  tensors: " << plan.tensors.size() << " (" << merged << " merged, "
      << plan.tensors.size() - merged << " copied from "
      << labels[job.reference_index()] << ")\n";
  if (!recipe.vocabulary.empty()) out << "  vocabulary: " << recipe.vocabulary << "\n";
  out << "  read " << format_bytes(plan.total_read_bytes()) << ", write "
      << format_bytes(plan.layout.total_tensor_bytes) << " in " << plan.units.size()
      << " work units of up to " << format_bytes(job.chunk_size) << "\n";
  for (int r = 0; r < ranks; ++r)
    out << "  rank " << r << ": " << plan.rank_bounds[r + 1] - plan.rank_bounds[r] << " units, "
        << format_bytes(plan.rank_cost(r)) << " read+written\n";
  out << "  output " << job.output.string() << ":\n";
  for (const auto& shard : plan.layout.shards)
    out << "    " << shard.file_name << "  " << shard.tensors.size() << " tensors  "
        << format_bytes(shard.file_size) << "\n";
}

void print_parameters(std::ostream& out, const PreparedMethod& method, const MergePlan& plan) {
  constexpr size_t kGroups = 16, kNames = 3;
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;  // in order of first use
  for (size_t t = 0; t < plan.tensors.size(); ++t) {
    const std::string d = method.describe(t);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == d; });
    if (it == groups.end()) it = groups.insert(groups.end(), {d, {}});
    it->second.push_back(t);
  }
  out << "  parameters (" << groups.size() << " distinct):\n";
  for (size_t g = 0; g < std::min(groups.size(), kGroups); ++g) {
    const auto& [text, tensors] = groups[g];
    out << "    " << text << "\n      ";
    for (size_t i = 0; i < std::min(tensors.size(), kNames); ++i)
      out << (i ? ", " : "") << plan.tensors[tensors[i]].name;
    if (tensors.size() > kNames) out << " and " << tensors.size() - kNames << " more";
    out << "\n";
  }
  if (groups.size() > kGroups) out << "    ... and " << groups.size() - kGroups << " more settings\n";
}

std::vector<std::string> data_warnings(const Job& job, const MergeRecipe& recipe,
                                       const MergePlan& plan, const JobTotals& totals) {
  const std::vector<std::string> labels = model_labels(job);
  std::vector<std::string> warnings;
  const auto by = nonfinite_counts(recipe, plan, totals);
  for (size_t s = 0; s < recipe.models.size(); ++s)
    if (by[s].count > 0)
      warnings.push_back(std::to_string(by[s].count) + " NaN/Inf values read from " +
                         labels[recipe.models[s]] + " (first in tensor '" +
                         by[s].first_tensor + "')");
  if (const NonfiniteCount& out = by.back(); out.count > 0)
    warnings.push_back(std::to_string(out.count) +
                       " merged values are NaN/Inf in the output, from NaN/Inf inputs or sums "
                       "too large for the output dtype (first in tensor '" + out.first_tensor + "')");
  for (size_t t = 0; t < plan.tensors.size(); ++t)
    if (totals.differs[t] > 0)
      warnings.push_back("integer tensor '" + plan.tensors[t].name +
                         "' differs between models; copied from " +
                         labels[job.reference_index()]);
  return warnings;
}

void print_summary(std::ostream& out, const Job& job, const MergeRecipe& recipe,
                   const MergePlan& plan, const JobTotals& totals) {
  const double rate = totals.merge_seconds > 0 ? totals.bytes_read / totals.merge_seconds : 0;
  out << "cocktail: merged " << plan.tensors.size() << " tensors of " << recipe.models.size()
      << " models into " << job.output.string() << " (" << plan.layout.shards.size()
      << " shard" << (plan.layout.shards.size() == 1 ? "" : "s") << ")\n";
  out << "  method   " << job.method_name << ": " << weights_text(job, recipe) << "\n";
  out << "  read     " << format_bytes(totals.bytes_read) << "   written "
      << format_bytes(totals.bytes_written) << "\n";
  out << "  time     " << format_seconds(totals.total_seconds) << " total, "
      << format_seconds(totals.merge_seconds) << " merging, " << format_bytes(rate)
      << "/s input\n";
  if (totals.skipped_units > 0)
    out << "  resumed  " << totals.skipped_units << " of " << plan.units.size()
        << " work units were already in the output (" << format_bytes(totals.skipped_bytes)
        << " of input not read again)\n";
  out << "  compute  " << totals.compute;
  if (totals.peak_rss_bytes.size() > 1)
    out << " on rank 0; " << totals.gpu_ranks << " of " << totals.peak_rss_bytes.size() << " ranks on GPUs";
  if (!totals.compute_note.empty()) out << "; " << totals.compute_note;
  out << "\n";
  out << "  peak RSS";
  for (size_t r = 0; r < totals.peak_rss_bytes.size(); ++r)
    out << (r ? ", " : " ") << "rank " << r << " " << format_bytes(totals.peak_rss_bytes[r]);
  out << "\n";
}

void print_fewshot(std::ostream& out, const Job& job, const FewShotResult& fewshot) {
  const std::vector<std::string> labels = model_labels(job);
  const FewShot& cfg = *job.fewshot;
  out << "cocktail: few-shot weights from " << fewshot.examples << " examples in "
      << fewshot.batches << " batches (temperature " << cfg.temperature << ", loss "
      << (cfg.reduction == LossReduction::Upstream ? "upstream" : "token_mean") << ", on "
      << fewshot.device << ")\n";
  out << "  scored " << static_cast<uint64_t>(fewshot.tokens) << " tokens over all candidates in "
      << format_seconds(fewshot.seconds) << ", read " << format_bytes(fewshot.bytes_read)
      << " of weights\n";
  for (const auto& where : fewshot.skipped)
    out << "cocktail: warning: " << where << ": nothing left to score within max_input_length; skipped\n";
  size_t width = 9;
  for (size_t c : fewshot.candidates) width = std::max(width, labels[c].size());
  const bool held = !fewshot.held_out_losses.empty();
  out << "  " << std::left << std::setw(static_cast<int>(width)) << "candidate" << std::right
      << std::setw(12) << "loss" << std::setw(12) << "weight" << (held ? "    held-out\n" : "\n");
  for (size_t i = 0; i < fewshot.candidates.size(); ++i) {
    out << "  " << std::left << std::setw(static_cast<int>(width))
        << labels[fewshot.candidates[i]] << std::right << std::fixed
        << std::setprecision(6) << std::setw(12) << fewshot.losses[i] << std::setw(12)
        << fewshot.weights[i];
    if (held) out << std::setw(12) << fewshot.held_out_losses[i];
    out << std::defaultfloat << "\n";
  }
  if (held)
    out << "  (losses over the first " << fewshot.split.train << " batches, held-out over the last "
        << fewshot.split.held_out << ")\n";
  if (!fewshot.choice) return;
  const WeightChoiceTrace& c = *fewshot.choice;
  const ChoiceStep& best = c.steps[c.best];
  out << "  weights by " << c.how << ": " << c.steps.size() << " merged models evaluated in "
      << format_seconds(c.seconds) << ", read " << format_bytes(c.bytes_read);
  if (c.stages > 1) out << " as " << c.stages << " pipeline stages";
  out << " (" << c.stopped << ")\n";
  if (!best.density.empty()) {
    out << "  chosen densities:";
    for (size_t i = 0; i < best.density.size(); ++i)
      out << " " << labels[fewshot.candidates[i]] << "=" << std::setprecision(4) << best.density[i];
    out << std::defaultfloat << "\n";
  }
  out << std::fixed << std::setprecision(6) << "  chosen: loss " << best.loss.train;
  if (held) out << ", held-out " << best.loss.held_out;
  out << "; softmax weights merged: loss " << c.softmax.train;
  if (held) out << ", held-out " << c.softmax.held_out;
  out << std::defaultfloat << "\n";
}

namespace {

// A setting's text as a YAML scalar: as written when it is a plain word or
// number, else double-quoted (a JSON string is one).
std::string yaml_scalar(const std::string& text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-' || ch == '+';
  });
  return plain ? text : nlohmann::json(text).dump();
}

// A `parameters` mapping as the parser reads it back (config/setting.hpp):
// a value, a gradient, or filter/value conditions.
std::string settings_yaml(const Settings& settings) {
  std::string y = "{";
  for (const Setting& st : settings) {
    y += (y.size() > 1 ? ", " : "") + st.name + ": ";
    auto value = [](const SettingValue& v) {
      if (!v.gradient) return yaml_scalar(v.items.front());
      std::string list = "[";
      for (size_t i = 0; i < v.items.size(); ++i) list += (i ? ", " : "") + yaml_scalar(v.items[i]);
      return list + "]";
    };
    if (!st.conditional) {
      y += value(st.conditions.front().value);
      continue;
    }
    y += "[";
    for (size_t i = 0; i < st.conditions.size(); ++i) {
      const SettingCondition& c = st.conditions[i];
      y += std::string(i ? ", " : "") + "{" + (c.filter ? "filter: " + yaml_scalar(*c.filter) + ", " : "") +
           "value: " + value(c.value) + "}";
    }
    y += "]";
  }
  return y + "}";
}

// A method of src/merge/methods/: the job as merged, with the chosen weights
// (and densities) as each model's parameters.
std::string method_recipe_yaml(const Job& job) {
  std::ostringstream y;
  y << "merge_method: " << job.method_name << "\n";
  if (!job.models.empty() && job.models[0].role == ModelRole::Base)
    y << "base_model: " << job.models[0].name() << "\n";
  if (!job.parameters.empty()) y << "parameters: " << settings_yaml(job.parameters) << "\n";
  y << "models:\n";
  for (const ModelSpec& m : job.models) {
    if (m.role != ModelRole::Peer) continue;
    y << "  - model: " << m.name() << "\n";
    if (!m.parameters.empty()) y << "    parameters: " << settings_yaml(m.parameters) << "\n";
  }
  y << "random_seed: " << job.random_seed << "\n";
  return y.str();
}

}  // namespace

std::string chosen_recipe_yaml(const Job& job, const FewShotResult& fewshot) {
  std::ostringstream y;
  const WeightChoiceTrace& c = *fewshot.choice;
  y << "# Weights chosen by cocktail's " << c.how << " over " << c.steps.size() << " merged models\n"
    << "# (" << job.config_path.string() << "); this job merges the same output without evaluating.\n";
  const std::vector<double>& w = c.steps[c.best].weights;
  const size_t n = fewshot.candidates.size();
  if (job.method == MergeMethod::Registered && job.slices.empty()) {
    // The chosen weights and densities set here, not left to the caller:
    // eval prints this without merging.
    const std::vector<double> weights(w.begin(), w.begin() + static_cast<ptrdiff_t>(n));
    y << method_recipe_yaml(with_candidate_recipe(job, fewshot.candidates, weights, c.steps[c.best].density));
  } else if (c.layer_groups == 1) {
    y << "merge_method: linear\nparameters: {normalize: false}\nmodels:\n";
    for (size_t i = 0; i < n; ++i)
      y << "  - model: " << job.models[fewshot.candidates[i]].name() << "\n    parameters: {weight: "
        << float32_text(static_cast<float>(w[i])) << "}\n";
  } else {  // one slice per layer group, as the merge ran it
    y << "merge_method: linear\nparameters: {normalize: false}\nslices:\n";
    for (size_t g = 0; g < c.layer_groups; ++g) {
      y << "  - sources:\n";
      for (size_t i = 0; i < n; ++i)
        y << "      - model: " << job.models[fewshot.candidates[i]].name() << "\n        layer_range: ["
          << c.layer_ranges[g].first << ", " << c.layer_ranges[g].second << "]\n        parameters: {weight: "
          << float32_text(static_cast<float>(w[g * n + i])) << "}\n";
    }
  }
  if (job.out_dtype) y << "dtype: " << torch_name(*job.out_dtype) << "\n";
  if (!job.output.empty()) y << "output: " << job.output.string() << "\n";
  return y.str();
}

std::string losses_text(const Job& job, const FewShotResult& fewshot) {
  const std::vector<std::string> labels = model_labels(job);
  std::ostringstream s;
  s << std::setprecision(9);
  for (size_t i = 0; i < fewshot.candidates.size(); ++i)
    s << (i ? ", " : "") << labels[fewshot.candidates[i]] << "=" << fewshot.losses[i];
  return s.str();
}

namespace {

nlohmann::ordered_json merged_loss_json(const MergedLoss& l) {
  nlohmann::ordered_json j{{"loss", l.train}};
  if (!std::isnan(l.held_out)) j["held_out_loss"] = l.held_out;
  return j;
}

// The whole trajectory of a search or soup: every merged model evaluated.
nlohmann::ordered_json choice_json(const WeightChoiceTrace& c) {
  nlohmann::ordered_json j{{"how", c.how}, {"stopped", c.stopped}, {"chosen_step", c.best},
                           {"layer_groups", c.layer_groups}, {"layer_ranges", c.layer_ranges},
                           {"softmax_weights_merged", merged_loss_json(c.softmax)}};
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const ChoiceStep& s : c.steps) {
    nlohmann::ordered_json step = merged_loss_json(s.loss);
    step["weights"] = s.weights;
    if (!s.density.empty()) step["density"] = s.density;
    step["objective"] = s.objective;
    if (!s.note.empty()) step["note"] = s.note;
    steps.push_back(step);
  }
  j["steps"] = steps;
  j["seconds"] = c.seconds;
  j["bytes_read"] = c.bytes_read;
  j["pipeline_stages"] = c.stages;
  return j;
}

}  // namespace

std::string merge_report_json(const Job& job, const MergeRecipe& recipe, const MergePlan& plan,
                              const JobTotals& totals, const FewShotResult* fewshot, const SideFiles& side_files) {
  const std::vector<std::string> labels = model_labels(job);
  nlohmann::ordered_json report;
  report["tool"] = "cocktail";
  report["version"] = COCKTAIL_VERSION;
  report["merge_method"] = job.method_name;
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (size_t i = 0; i < job.models.size(); ++i) {
    nlohmann::ordered_json m{{"path", job.models[i].name()},
                             {"role", role_name(job.models[i].role)}};
    const auto it = std::find(recipe.models.begin(), recipe.models.end(), i);
    m["name"] = labels[i];
    if (it != recipe.models.end() && !recipe.weights.empty()) m["weight"] = float32_json(recipe.weights[it - recipe.models.begin()]);
    models.push_back(m);
  }
  report["models"] = models;
  if (job.method == MergeMethod::Linear) report["normalize"] = job.normalize;
  if (job.method == MergeMethod::LmCocktail && job.has_target()) report["alpha"] = job.alpha;
  if (job.method == MergeMethod::Registered) {
    report["parameters"] = recipe.description;
    report["random_seed"] = job.random_seed;
  }
  if (fewshot) {
    const FewShot& cfg = *job.fewshot;
    nlohmann::ordered_json f;
    f["examples"] = fewshot->examples;
    f["batches"] = fewshot->batches;
    f["temperature"] = cfg.temperature;
    f["batch_size"] = cfg.batch_size;
    f["max_input_length"] = cfg.max_input_length;
    f["loss_reduction"] = cfg.reduction == LossReduction::Upstream ? "upstream" : "token_mean";
    f["skipped"] = fewshot->skipped;
    f["held_out_batches"] = fewshot->split.held_out;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t i = 0; i < fewshot->candidates.size(); ++i) {
      nlohmann::ordered_json c{{"path", job.models[fewshot->candidates[i]].name()},
                               {"loss", fewshot->losses[i]},
                               {"weight", fewshot->weights[i]}};
      if (!fewshot->held_out_losses.empty()) c["held_out_loss"] = fewshot->held_out_losses[i];
      list.push_back(c);
    }
    f["candidates"] = list;
    if (fewshot->choice) f["choice"] = choice_json(*fewshot->choice);
    report["fewshot"] = f;
  }
  if (!recipe.vocabulary.empty()) report["vocabulary"] = recipe.vocabulary;
  report["tensors"] = plan.tensors.size();
  report["shards"] = plan.layout.shards.size();
  // The job's bytes, not this run's: a resumed run reads less, and the
  // output must not depend on how many runs it took.
  report["bytes_read"] = plan.total_read_bytes();
  report["bytes_written"] = plan.layout.total_tensor_bytes;
  report["warnings"] = data_warnings(job, recipe, plan, totals);
  for (const auto& w : recipe.warnings) report["warnings"].push_back(w);
  for (const auto& w : side_files.warnings) report["warnings"].push_back(w);
  nlohmann::ordered_json left = nlohmann::ordered_json::array();
  for (const auto& [file, why] : side_files.not_copied) left.push_back({{"file", file}, {"why", why}});
  report["reference_files_not_copied"] = left;
  return report.dump(2) + "\n";
}

}  // namespace cocktail
