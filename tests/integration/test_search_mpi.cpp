// Weights chosen by evaluating merged models (weights: search, greedy_soup)
// under real mpirun, on the synthetic task where the answer is known: the
// examples were sampled from T = 0.6 A + 0.4 B (tests/fixtures/
// make_search_fixtures.py). The search must find weights near (0.6, 0.4, 0)
// with a lower held-out loss than LM-Cocktail's softmax weights, the soup
// must pick A and B, and both must give the same bytes at 1 and 2 ranks and
// write a recipe that merges the same bytes without searching.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <nlohmann/json.hpp>

#include "fixture_models.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;
using json = nlohmann::json;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

std::string model(const std::string& name) { return (kFixtures / "models" / name).string(); }

// The synthetic task merged by `method`: lm_cocktail weighs the base and
// the peers; a method of src/merge/methods/ (ties, ...) the peers' task
// vectors (the base is no candidate).
std::string job(const std::string& weights, const fs::path& out, const std::string& extra = "",
                const std::string& method = "lm_cocktail") {
  return "merge_method: " + method + "\n"
         "base_model: " + model("llama-fp32") + "\n"
         "models:\n"
         "  - model: " + model("llama-peer1-fp32") + "\n"
         "  - model: " + model("llama-peer2-fp32") + "\n"
         "examples: " + (kFixtures / "examples/synthetic_mixture.jsonl").string() + "\n"
         "batch_size: 4\nheld_out: 0.25\ncache: 100MB\nprogress_interval: 0\n"
         "weights: " + weights + "\n" + extra + "output: " + out.string() + "\n";
}

json report(const fs::path& out) { return json::parse(read_file(out / "merge_report.json")); }

// Merges the job `text(output)` gives at 1 and 2 ranks; the outputs must be
// the same bytes.
json merge_at_one_and_two_ranks(const TempDir& dir, const std::string& name,
                                const std::function<std::string(const fs::path&)>& text) {
  std::string shard;
  for (int ranks : {1, 2}) {
    const fs::path out = dir.path / (name + std::to_string(ranks));
    const fs::path cfg = dir.path / (name + std::to_string(ranks) + ".yaml");
    write_file(cfg, text(out));
    const RunResult r = run_mpi(ranks, {cfg.string()});
    EXPECT_EQ(r.status, 0) << r.output;
    const std::string bytes = read_file(out / "model.safetensors");
    if (shard.empty()) shard = bytes;
    EXPECT_TRUE(bytes == shard) << name << ": other bytes at " << ranks << " ranks";
  }
  return report(dir.path / (name + "1"));
}

json merge_at_one_and_two_ranks(const TempDir& dir, const std::string& name, const std::string& weights,
                                const std::string& extra = "") {
  return merge_at_one_and_two_ranks(dir, name, [&](const fs::path& out) { return job(weights, out, extra); });
}

// The written model's loss on the task (cocktail_dist eval), training and
// held-out, as `eval` prints them.
std::pair<double, double> written_loss(const TempDir& dir, const std::string& out) {
  write_file(dir.path / "eval.yaml", "merge_method: lm_cocktail\nmodels:\n  - model: " + (dir.path / out).string() +
                                         "\nexamples: " + (kFixtures / "examples/synthetic_mixture.jsonl").string() +
                                         "\nbatch_size: 4\nheld_out: 0.25\n");
  const RunResult e = run_mpi(1, {"eval", (dir.path / "eval.yaml").string()});
  EXPECT_EQ(e.status, 0) << e.output;
  const size_t at = e.output.find(out + " ");
  if (at == std::string::npos) {
    ADD_FAILURE() << e.output;
    return {};
  }
  double loss = 0, weight = 0, held = 0;
  EXPECT_EQ(std::sscanf(e.output.c_str() + at, (out + " %lf %lf %lf").c_str(), &loss, &weight, &held), 3) << e.output;
  return {loss, held};
}

// The model written into `out` scores, on its own, the losses of the step
// the choice picked: what the search evaluated is what was written.
void expect_written_model_scores_the_chosen_step(const TempDir& dir, const json& choice, const std::string& out) {
  const json& best = choice["steps"][choice["chosen_step"].get<size_t>()];
  const auto [loss, held] = written_loss(dir, out);
  EXPECT_NEAR(loss, best["loss"].get<double>(), 1e-6) << out;
  EXPECT_NEAR(held, best["held_out_loss"].get<double>(), 1e-6) << out;
}

// The cocktail_recipe.yaml written into `out` merges the same tensors,
// without evaluating anything, into another folder.
void expect_recipe_replays(const TempDir& dir, const std::string& out) {
  std::string text = read_file(dir.path / out / "cocktail_recipe.yaml");
  const std::string from = "output: " + (dir.path / out).string();
  text.replace(text.find(from), from.size(), "output: " + (dir.path / "replayed").string());
  write_file(dir.path / "replay.yaml", text);
  const RunResult replay = run_mpi(2, {(dir.path / "replay.yaml").string()});
  ASSERT_EQ(replay.status, 0) << replay.output;
  EXPECT_TRUE(tensor_bytes(dir.path / "replayed/model.safetensors") == tensor_bytes(dir.path / out / "model.safetensors"));
}

}  // namespace

TEST(SearchMpi, FindsTheMixtureTheExamplesCameFromAndBeatsSoftmaxHeldOut) {
  TempDir dir("search");
  const json r = merge_at_one_and_two_ranks(dir, "search", "search", "search: {budget: 40}\n");
  const json& choice = r["fewshot"]["choice"];
  ASSERT_EQ(choice["steps"].size(), 40u);
  const json& best = choice["steps"][choice["chosen_step"].get<size_t>()];
  const std::vector<double> want = {0.6, 0.4, 0.0};
  double sum = 0;
  for (size_t i = 0; i < 3; ++i) {
    const double w = best["weights"][i].get<double>();
    sum += w;
    EXPECT_NEAR(w, want[i], 0.1) << "candidate " << i << ": " << best["weights"];
    EXPECT_NEAR(r["models"][i]["weight"].get<double>(), w, 1e-6);
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);  // on the simplex
  EXPECT_LT(best["held_out_loss"].get<double>(), choice["softmax_weights_merged"]["held_out_loss"].get<double>());
  EXPECT_LT(best["loss"].get<double>(), choice["softmax_weights_merged"]["loss"].get<double>());
  EXPECT_EQ(r["fewshot"]["held_out_batches"], 2);
  expect_recipe_replays(dir, "search1");
}

// Weights per layer group: the merge runs as linear with one slice per
// group, which is what the search's mixture evaluated (the written model's
// loss is the chosen one), and its recipe replays to the same tensors.
TEST(SearchMpi, LayerGroupsMergeAsSlicesWithTheLossTheSearchSaw) {
  TempDir dir("search");
  const json r = merge_at_one_and_two_ranks(dir, "groups", "search", "search: {budget: 80, layer_groups: 2}\n");
  const json& choice = r["fewshot"]["choice"];
  EXPECT_EQ(choice["layer_groups"], 2);
  EXPECT_EQ(choice["layer_ranges"], json::parse("[[0, 1], [1, 2]]"));
  const json& best = choice["steps"][choice["chosen_step"].get<size_t>()];
  ASSERT_EQ(best["weights"].size(), 6u);
  for (size_t g = 0; g < 2; ++g) {
    double sum = 0;
    for (size_t i = 0; i < 3; ++i) sum += best["weights"][g * 3 + i].get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-12) << "group " << g;
    EXPECT_NEAR(best["weights"][g * 3].get<double>(), 0.6, 0.1) << "group " << g;
  }
  EXPECT_LT(best["held_out_loss"].get<double>(), choice["softmax_weights_merged"]["held_out_loss"].get<double>());

  expect_written_model_scores_the_chosen_step(dir, choice, "groups1");
  expect_recipe_replays(dir, "groups1");
}

TEST(SearchMpi, GreedySoupPicksTheTwoModelsOfTheMixture) {
  TempDir dir("search");
  const json r = merge_at_one_and_two_ranks(dir, "soup", "greedy_soup");
  const json& choice = r["fewshot"]["choice"];
  ASSERT_EQ(choice["steps"].size(), 3u);
  const json& best = choice["steps"][choice["chosen_step"].get<size_t>()];
  EXPECT_EQ(best["weights"], json::parse("[0.5, 0.5, 0.0]")) << choice.dump(1);
  EXPECT_NE(choice["steps"][2]["note"].get<std::string>().find("leave out llama-peer2-fp32"), std::string::npos);
}

// Pipeline stages (docs/architecture.md, "Weight search at 70B x 10"): each
// rank runs a contiguous run of layers of every batch and passes the hidden
// states on, so every evaluation reads each candidate byte once in the whole
// job (with no cache), where splitting the batches reads it once per rank.
// The losses are the same bits as one rank's, so is the trajectory and the
// output, at 2 stages (chosen by auto: no cache) and 3 (one stage without a
// layer: the 2-layer fixture), for lm_cocktail's mixture and for ties.
TEST(SearchMpi, PipelineStagesGiveOneRanksLossesReadingEachByteOnce) {
  TempDir dir("search");
  struct Run {
    std::string name, method;
    int ranks;
    std::string pipeline;  // the key's line, or "" for auto
    int stages;
  };
  const std::vector<Run> runs = {{"one", "lm_cocktail", 1, "", 1},
                                 {"auto2", "lm_cocktail", 2, "", 2},
                                 {"stages3", "lm_cocktail", 3, "pipeline: true\n", 3},
                                 {"batches2", "lm_cocktail", 2, "pipeline: false\n", 1},
                                 {"ties1", "ties", 1, "", 1},
                                 {"ties2", "ties", 2, "pipeline: true\n", 2}};
  std::map<std::string, json> reports;
  for (const Run& run : runs) {
    const fs::path out = dir.path / run.name;
    const std::string extra = run.pipeline + "search: {budget: 6}\n";
    std::string text = job("search", out, extra, run.method);
    text.replace(text.find("cache: 100MB\n"), 13, "cache: 0\n");
    write_file(dir.path / (run.name + ".yaml"), text);
    const RunResult r = run_mpi(run.ranks, {(dir.path / (run.name + ".yaml")).string()});
    ASSERT_EQ(r.status, 0) << run.name << r.output;
    reports[run.name] = report(out);
    EXPECT_EQ(reports[run.name]["fewshot"]["choice"]["pipeline_stages"], run.stages) << run.name;
    if (run.stages > 1) {
      EXPECT_EQ(r.lines_containing("as " + std::to_string(run.stages) + " pipeline stages"), 1) << r.output;
    }
  }
  const auto same_run = [&](const std::string& a, const std::string& b) {
    const json& x = reports[a]["fewshot"]["choice"];
    const json& y = reports[b]["fewshot"]["choice"];
    ASSERT_EQ(x["steps"].size(), y["steps"].size());
    for (size_t i = 0; i < x["steps"].size(); ++i) {
      // Exact: the JSON holds every double's shortest round-trip text.
      EXPECT_EQ(x["steps"][i]["loss"], y["steps"][i]["loss"]) << a << " vs " << b << ", step " << i;
      EXPECT_EQ(x["steps"][i]["held_out_loss"], y["steps"][i]["held_out_loss"]) << a << " vs " << b;
      EXPECT_EQ(x["steps"][i]["weights"], y["steps"][i]["weights"]) << a << " vs " << b;
    }
    EXPECT_EQ(x["softmax_weights_merged"], y["softmax_weights_merged"]) << a << " vs " << b;
    EXPECT_TRUE(tensor_bytes(dir.path / a / "model.safetensors") == tensor_bytes(dir.path / b / "model.safetensors"))
        << a << " vs " << b;
  };
  for (const char* name : {"auto2", "stages3", "batches2"}) same_run("one", name);
  same_run("ties1", "ties2");
  const auto read = [&](const std::string& name) {
    return reports[name]["fewshot"]["choice"]["bytes_read"].get<double>();
  };
  EXPECT_GT(read("one"), 0);
  EXPECT_EQ(read("auto2"), read("one"));
  EXPECT_EQ(read("stages3"), read("one"));
  EXPECT_EQ(read("ties2"), read("ties1"));
  EXPECT_GT(read("batches2"), 1.5 * read("one"));  // every rank streams every layer
}

TEST(SearchMpi, BadSettingsNameTheKeyOnEveryRank) {
  TempDir dir("search");
  const fs::path out = dir.path / "out";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"search: {budget: 0}\n", "key 'search.budget': must be a whole number in [1, 1000000], got '0'"},
      {"search: {bounds: [1.5, 2]}\n", "key 'search.bounds': no weights on the simplex"},
      {"search: {algorithm: cmaes}\n", "key 'search.algorithm': must be one of cobyla, bobyqa"},
      {"cache: 1KB\n", "key 'cache': 1000 bytes hold less than one layer of the 3 candidates"},
      {"search: {layer_groups: 3}\n", "key 'search.layer_groups': 3 groups of the candidates' 2 layers"},
  };
  for (const auto& [extra, message] : cases) {
    std::string text = job("search", out, extra);
    if (extra.rfind("cache", 0) == 0) text.replace(text.find("cache: 100MB\n"), 13, "");
    write_file(dir.path / "bad.yaml", text);
    const RunResult r = run_mpi(2, {(dir.path / "bad.yaml").string()}, /*every_rank_finishes=*/true);
    for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
    EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
    EXPECT_EQ(r.lines_containing(message), 1) << extra << r.output;
    EXPECT_FALSE(fs::exists(out)) << extra;
  }
  // Keys of a method's search: what it cannot search is named.
  const std::vector<std::tuple<std::string, std::string, std::string>> method_cases = {
      {"lm_cocktail", "search: {density: [0.2, 1]}\n", "key 'search.density': lm_cocktail has no density parameter"},
      {"task_arithmetic", "search: {density: [0.2, 1]}\n",
       "key 'search.density': task_arithmetic has no density parameter"},
      {"ties", "search: {layer_groups: 2}\n", "key 'search.layer_groups': weights per layer group are merged as linear"},
      {"ties", "search: {density: [0, 1]}\n", "key 'search.density': must be [lower, upper] with 0 < lower < upper"},
      {"della", "search: {density: [0.1, 0.9]}\n",
       "key 'search.density': the bound 0.1 is outside what della accepts"},
      {"ties", "gpu_cache: 1GB\n", "key 'gpu_cache': ties's merged tensors are computed on the CPU"},
  };
  // Pipeline stages split a decoder's layers: a T5's are refused by key.
  write_file(dir.path / "t5.yaml", "merge_method: lm_cocktail\nmodels:\n  - model: " + model("t5-fp32") +
                                       "\n  - model: " + model("t5-peer1-fp32") + "\nexamples: " +
                                       (kFixtures / "examples/decoder.jsonl").string() +
                                       "\nweights: search\npipeline: true\noutput: " + out.string() + "\n");
  const RunResult t5 = run_mpi(2, {(dir.path / "t5.yaml").string()}, /*every_rank_finishes=*/true);
  for (int s : t5.rank_status) EXPECT_NE(s, 0) << t5.output;
  EXPECT_EQ(t5.lines_containing("key 'pipeline': pipeline stages split a decoder's layers"), 1) << t5.output;
  EXPECT_FALSE(fs::exists(out));
  for (const auto& [method, extra, message] : method_cases) {
    std::string text = job("search", out, extra, method);
    write_file(dir.path / "bad.yaml", text);
    const RunResult r = run_mpi(2, {(dir.path / "bad.yaml").string()}, /*every_rank_finishes=*/true);
    for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
    EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
    EXPECT_EQ(r.lines_containing(message), 1) << method << " " << extra << r.output;
    EXPECT_FALSE(fs::exists(out)) << extra;
  }
}

// A method of src/merge/methods/ searched in memory: ties' weights and one
// density per candidate. Every evaluation is the bytes the merge writes for
// that recipe, so the written model's loss is the chosen step's; the same
// bytes at 1 and 2 ranks, and a recipe that replays them.
TEST(SearchMpi, TiesWeightsAndDensitiesSearchedInMemory) {
  TempDir dir("search");
  const json r = merge_at_one_and_two_ranks(dir, "ties", [](const fs::path& out) {
    return job("search", out, "search: {budget: 16, density: [0.3, 1]}\n", "ties");
  });
  const json& choice = r["fewshot"]["choice"];
  ASSERT_EQ(choice["steps"].size(), 16u);
  std::set<double> densities;
  for (const json& step : choice["steps"]) {
    ASSERT_EQ(step["weights"].size(), 2u) << step;  // the peers: the base has no task vector
    ASSERT_EQ(step["density"].size(), 2u) << step;
    for (const json& d : step["density"]) {
      EXPECT_GE(d.get<double>(), 0.3);
      EXPECT_LE(d.get<double>(), 1.0);
      densities.insert(d.get<double>());
    }
  }
  EXPECT_GT(densities.size(), 2u) << "the search never moved the densities";
  expect_written_model_scores_the_chosen_step(dir, choice, "ties1");
  const std::string recipe = read_file(dir.path / "ties1/cocktail_recipe.yaml");
  EXPECT_NE(recipe.find("merge_method: ties\n"), std::string::npos) << recipe;
  EXPECT_NE(recipe.find("density: "), std::string::npos) << recipe;
  expect_recipe_replays(dir, "ties1");
  // eval searches alike and prints the same recipe, without merging.
  const RunResult e = run_mpi(2, {"eval", (dir.path / "ties1.yaml").string()});
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find(recipe), std::string::npos) << e.output << "\nwritten:\n" << recipe;
}

// A greedy soup of ties merges: each candidate's uniform share of the soup
// is its ties weight.
TEST(SearchMpi, GreedySoupOfTiesMerges) {
  TempDir dir("search");
  const json r = merge_at_one_and_two_ranks(dir, "tsoup", [](const fs::path& out) {
    return job("greedy_soup", out, "parameters: {density: 0.5}\n", "ties");
  });
  const json& choice = r["fewshot"]["choice"];
  ASSERT_EQ(choice["steps"].size(), 2u);
  expect_written_model_scores_the_chosen_step(dir, choice, "tsoup1");
  expect_recipe_replays(dir, "tsoup1");
}
