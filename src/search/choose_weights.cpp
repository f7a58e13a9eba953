#include "search/choose_weights.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <iomanip>
#include <sstream>

#include "core/error.hpp"
#include "dist/collective_step.hpp"
#include "merge/methods/method.hpp"
#include "model/mixture_source.hpp"
#include "search/merged_loss.hpp"
#include "search/method_source.hpp"
#include "search/weight_choice.hpp"

namespace cocktail {

namespace {

// Bytes of the largest layer (".layers.N.", ".block.N.", ".layer.N.") of
// `ckpt`, as float32 or as stored: what the forward needs at once from every
// input of the merged model.
uint64_t largest_layer_bytes(const Checkpoint& ckpt, bool as_float32) {
  std::map<std::string, uint64_t> layers;
  for (const CheckpointTensor& t : ckpt.tensors()) {
    const std::string& n = t.info.name;
    for (const char* marker : {".layers.", ".block.", ".layer."}) {
      const size_t at = n.find(marker);
      if (at == std::string::npos) continue;
      const size_t end = n.find('.', at + std::char_traits<char>::length(marker));
      layers[n.substr(0, end)] += as_float32 ? t.info.numel() * sizeof(float) : t.info.nbytes();
      break;
    }
  }
  uint64_t largest = 0;
  for (const auto& [name, bytes] : layers) largest = std::max(largest, bytes);
  return largest;
}

}  // namespace

void check_weight_choice(const Job& job, const std::vector<Checkpoint>& models) {
  if (!job.fewshot || job.fewshot->weights == WeightChoice::Softmax) return;
  const FewShot& cfg = *job.fewshot;
  const std::vector<size_t> candidates = job.candidates();
  // lm_cocktail's mixture caches the candidates as float32 (GPU, then host);
  // a method caches every model's stored bytes (the base too), on the host.
  const bool method = job.method == MergeMethod::Registered;
  if (method && cfg.gpu_cache_bytes > 0)
    throw Error(job.config_path.string() + ": key 'gpu_cache': " + job.method_name +
                "'s merged tensors are computed on the CPU, so its inputs are cached in host memory only; "
                "give that budget to 'cache'");
  const uint64_t layer = method ? largest_layer_bytes(models[candidates.front()], false) * models.size()
                                : largest_layer_bytes(models[candidates.front()], true) * candidates.size();
  for (const auto& [key, bytes] : {std::pair{"cache", cfg.cache_bytes}, std::pair{"gpu_cache", cfg.gpu_cache_bytes}})
    if (bytes > 0 && bytes < layer)
      throw Error(job.config_path.string() + ": key '" + key + "': " + std::to_string(bytes) +
                  " bytes hold less than one layer of the " +
                  (method ? std::to_string(models.size()) + " models (" + std::to_string(layer) + " bytes as stored)"
                          : std::to_string(candidates.size()) + " candidates (" + std::to_string(layer) +
                                " bytes as float32)") +
                  "; give at least that, or 0 to re-read them for every evaluation");
  if (cfg.weights == WeightChoice::Search && cfg.search.density_searched) {
    const Method* m = method ? find_method(job.method_name) : nullptr;
    if (!m || std::ranges::none_of(m->parameters(), [](const ParamSpec& p) { return p.name == "density"; }))
      throw Error(job.config_path.string() + ": key 'search.density': " + job.method_name +
                  " has no density parameter to search (ties, dare_ties, dare_linear, della, della_linear, "
                  "breadcrumbs and breadcrumbs_ties have one)");
    // The method's range of a density may depend on other parameters (della's
    // epsilon, breadcrumbs' gamma) and is an interval: both bounds must pass,
    // or the search would fail halfway. Headers only: nothing is read.
    MethodSource source(job, models, 0, 1);
    const std::vector<double> uniform(candidates.size(), 1.0 / static_cast<double>(candidates.size()));
    for (double d : {cfg.search.density_lower, cfg.search.density_upper}) {
      try {
        source.set_job(with_candidate_recipe(job, candidates, uniform, std::vector<double>(candidates.size(), d)));
      } catch (const Error& e) {
        throw Error(job.config_path.string() + ": key 'search.density': the bound " + exact_number_text(d) +
                    " is outside what " + job.method_name + " accepts (" + e.what() + ")");
      }
    }
  }
  const int groups = cfg.weights == WeightChoice::Search ? cfg.search.layer_groups : 1;
  const int64_t layers = decoder_layer_count(models[candidates.front()]);
  if (groups > 1 && layers == 0)
    throw Error(job.config_path.string() + ": key 'search.layer_groups': weights per layer group need a "
                "decoder (model.layers.N tensors); these candidates have none");
  if (cfg.pipeline.value_or(false) && layers == 0)
    throw Error(job.config_path.string() + ": key 'pipeline': pipeline stages split a decoder's layers "
                "(model.layers.N tensors) across the ranks; these candidates have none (use false, or auto)");
  if (groups > layers && groups > 1)
    throw Error(job.config_path.string() + ": key 'search.layer_groups': " + std::to_string(groups) +
                " groups of the candidates' " + std::to_string(layers) + " layers");
}

void choose_weights(Comm& comm, const Job& job, const std::vector<Checkpoint>& models, int gpu, int threads,
                    FewShotResult& fewshot, std::ostream* progress) {
  const FewShot& cfg = *job.fewshot;
  if (cfg.weights == WeightChoice::Softmax) return;
  const torch::Device device = fewshot_device(gpu);
  std::unique_ptr<MergedModelLoss> made;
  collective_step(comm, [&] {
    made = std::make_unique<MergedModelLoss>(comm, *fewshot.task, job, models, fewshot.candidates, fewshot.split,
                                             device, threads);
  });
  MergedModelLoss& merged = *made;
  const auto start = std::chrono::steady_clock::now();
  const size_t total = cfg.weights == WeightChoice::Search ? static_cast<size_t>(cfg.search.budget)
                                                           : fewshot.candidates.size();
  const StepFn on_step = [&](const WeightChoiceTrace& trace, size_t i) {
    if (!progress) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const ChoiceStep& s = trace.steps[i];
    std::ostringstream line;
    line << std::fixed << std::setprecision(6) << "  " << (cfg.weights == WeightChoice::Search ? "search" : "soup")
         << " " << i + 1 << "/" << total << ": loss " << s.loss.train;
    if (fewshot.split.held_out > 0) line << ", held-out " << s.loss.held_out;
    line << (cfg.weights == WeightChoice::Search ? ", best objective " : ", best ")
         << trace.steps[trace.best].objective << std::setprecision(0) << ", ETA "
         << elapsed / static_cast<double>(i + 1) * static_cast<double>(total - i - 1) << "s";
    if (!s.note.empty()) line << " (" << s.note << ")";
    *progress << line.str() << std::endl;
  };

  const MergedLoss softmax = merged(fewshot.weights);
  const uint64_t read_before = merged.bytes_read();
  const auto search_start = std::chrono::steady_clock::now();
  std::vector<std::string> names;
  for (size_t c : fewshot.candidates) names.push_back(job.models[c].short_name());
  WeightChoiceTrace trace =
      cfg.weights == WeightChoice::Search
          ? search_weights(merged, fewshot.candidates.size(), cfg.search, on_step)
          : greedy_soup(merged, fewshot.split.held_out > 0 ? fewshot.held_out_losses : fewshot.losses, names, on_step);
  trace.softmax = softmax;
  trace.stages = merged.stages();
  for (size_t g = 0; g < trace.layer_groups && trace.layer_groups > 1; ++g) {
    const auto groups = static_cast<int64_t>(trace.layer_groups);
    trace.layer_ranges.emplace_back(layer_group_begin(static_cast<int64_t>(g), groups, merged.layers()),
                                    layer_group_begin(static_cast<int64_t>(g) + 1, groups, merged.layers()));
  }
  const auto now = std::chrono::steady_clock::now();
  double cost[2] = {static_cast<double>(merged.bytes_read()), static_cast<double>(merged.bytes_read() - read_before)};
  comm.allreduce_sum(cost);
  double slowest[2] = {std::chrono::duration<double>(now - start).count(),
                       std::chrono::duration<double>(now - search_start).count()};
  comm.allreduce_max(slowest);
  fewshot.bytes_read += cost[0];
  fewshot.seconds += slowest[0];
  trace.bytes_read = cost[1];
  trace.seconds = slowest[1];
  // With layer groups the table shows the first group's; the merge takes them all.
  const std::vector<double>& chosen = trace.steps[trace.best].weights;
  fewshot.weights.assign(chosen.begin(), chosen.begin() + static_cast<ptrdiff_t>(fewshot.candidates.size()));
  fewshot.choice = std::move(trace);
}

}  // namespace cocktail
