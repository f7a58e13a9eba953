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
#include <nlohmann/json.hpp>

#include "fixture_models.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;
using json = nlohmann::json;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

struct Dir {
  fs::path path;
  Dir() {
    char tmpl[] = "/tmp/cocktail-search-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { fs::remove_all(path); }
};

std::string model(const std::string& name) { return (kFixtures / "models" / name).string(); }

std::string job(const std::string& weights, const fs::path& out, const std::string& extra = "") {
  return "merge_method: lm_cocktail\n"
         "base_model: " + model("llama-fp32") + "\n"
         "models:\n"
         "  - model: " + model("llama-peer1-fp32") + "\n"
         "  - model: " + model("llama-peer2-fp32") + "\n"
         "examples: " + (kFixtures / "examples/synthetic_mixture.jsonl").string() + "\n"
         "batch_size: 4\nheld_out: 0.25\ncache: 100MB\nprogress_interval: 0\n"
         "weights: " + weights + "\n" + extra + "output: " + out.string() + "\n";
}

json report(const fs::path& out) { return json::parse(read_file(out / "merge_report.json")); }

// A safetensors file's tensor bytes, after its header (whose metadata says
// how the weights were chosen).
std::string tensor_bytes(const fs::path& file) {
  const std::string all = read_file(file);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | static_cast<unsigned char>(all[static_cast<size_t>(i)]);
  return all.substr(8 + header);
}

// Merges `text` at 1 and 2 ranks; the outputs must be the same bytes.
json merge_at_one_and_two_ranks(const Dir& dir, const std::string& name, const std::string& weights,
                                const std::string& extra = "") {
  std::string shard;
  for (int ranks : {1, 2}) {
    const fs::path out = dir.path / (name + std::to_string(ranks));
    const fs::path cfg = dir.path / (name + std::to_string(ranks) + ".yaml");
    write_file(cfg, job(weights, out, extra));
    const RunResult r = run_mpi(ranks, {cfg.string()});
    EXPECT_EQ(r.status, 0) << r.output;
    const std::string bytes = read_file(out / "model.safetensors");
    if (shard.empty()) shard = bytes;
    EXPECT_TRUE(bytes == shard) << name << ": other bytes at " << ranks << " ranks";
  }
  return report(dir.path / (name + "1"));
}

// The cocktail_recipe.yaml written into `out` merges the same tensors,
// without evaluating anything, into another folder.
void expect_recipe_replays(const Dir& dir, const std::string& out) {
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
  Dir dir;
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
  Dir dir;
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

  // The written model scores what the search saw.
  write_file(dir.path / "eval.yaml", "merge_method: lm_cocktail\nmodels:\n  - model: " +
                                         (dir.path / "groups1").string() + "\nexamples: " +
                                         (kFixtures / "examples/synthetic_mixture.jsonl").string() +
                                         "\nbatch_size: 4\nheld_out: 0.25\n");
  const RunResult e = run_mpi(1, {"eval", (dir.path / "eval.yaml").string()});
  ASSERT_EQ(e.status, 0) << e.output;
  const std::string line = e.output.substr(e.output.find("groups1 "));
  double loss = 0, weight = 0, held = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "groups1 %lf %lf %lf", &loss, &weight, &held), 3) << e.output;
  EXPECT_NEAR(loss, best["loss"].get<double>(), 1e-6);
  EXPECT_NEAR(held, best["held_out_loss"].get<double>(), 1e-6);
  expect_recipe_replays(dir, "groups1");
}

TEST(SearchMpi, GreedySoupPicksTheTwoModelsOfTheMixture) {
  Dir dir;
  const json r = merge_at_one_and_two_ranks(dir, "soup", "greedy_soup");
  const json& choice = r["fewshot"]["choice"];
  ASSERT_EQ(choice["steps"].size(), 3u);
  const json& best = choice["steps"][choice["chosen_step"].get<size_t>()];
  EXPECT_EQ(best["weights"], json::parse("[0.5, 0.5, 0.0]")) << choice.dump(1);
  EXPECT_NE(choice["steps"][2]["note"].get<std::string>().find("leave out llama-peer2-fp32"), std::string::npos);
}

TEST(SearchMpi, BadSettingsNameTheKeyOnEveryRank) {
  Dir dir;
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
  // A method whose merged models are not the weighted sum the search evaluates.
  write_file(dir.path / "ties.yaml",
             "merge_method: ties\nbase_model: " + model("llama-fp32") + "\nmodels:\n  - model: " +
                 model("llama-peer1-fp32") + "\nexamples: " + (kFixtures / "examples/decoder.jsonl").string() +
                 "\nweights: search\nparameters: {density: 0.5}\noutput: " + out.string() + "\n");
  const RunResult r = run_mpi(2, {(dir.path / "ties.yaml").string()}, true);
  EXPECT_EQ(r.lines_containing("key 'weights': evaluates weighted sums of the candidates in memory"), 1) << r.output;
}
