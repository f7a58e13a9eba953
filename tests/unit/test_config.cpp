// load_job and parse_byte_size: accepted configs give the documented Job;
// rejected ones name the offending key and its line on one line.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "config/job.hpp"
#include "core/error.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

// Joins lines with '\n' so that a test's line numbers are the list positions.
std::string lines(std::initializer_list<std::string> ls) {
  std::string out;
  for (const std::string& l : ls) out += l + "\n";
  return out;
}

// Layout: ROOT/models/{base,ft_a,ft_b,ft_c}/, ROOT/models/single.safetensors,
// configs written to ROOT/configs/ so relative paths must start there.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cocktail-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    for (const char* m : {"base", "ft_a", "ft_b", "ft_c"}) fs::create_directories(root_ / "models" / m);
    std::ofstream(root_ / "models" / "single.safetensors") << "x";
    std::ofstream(root_ / "models" / "ex.jsonl") << "{}";
    fs::create_directories(root_ / "configs");
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path write(const std::string& yaml, const std::string& name = "job.yaml") {
    const fs::path p = root_ / "configs" / name;
    std::ofstream(p) << yaml;
    return p;
  }
  Job load(const std::string& yaml) { return load_job(write(yaml)); }
  fs::path model(const std::string& name) const { return root_ / "models" / name; }

  // The message of the Error thrown for `yaml`, or a failure marker.
  std::string error_of(const std::string& yaml) {
    try {
      load(yaml);
    } catch (const Error& e) {
      return e.what();
    }
    return "<no error>";
  }
  std::string prefix(int line) const {
    return (root_ / "configs" / "job.yaml").string() + ":" + std::to_string(line) + ": ";
  }

  fs::path root_;
};

// ---- accepted ---------------------------------------------------------------

TEST_F(ConfigTest, LinearWithBaseFullExample) {
  const Job job = load(lines({
      "merge_method: linear",
      "base_model: ../models/base",
      "models:",
      "  - model: ../models/ft_a",
      "    parameters:",
      "      weight: 0.7",
      "  - model: ../models/ft_b",
      "    parameters:",
      "      weight: 0.3",
      "parameters:",
      "  normalize: true",
      "  weight: 1.0",
      "dtype: bfloat16",
      "out_dtype: bfloat16",
      "output: ./merged",
      "max_shard_size: 5G",
      "chunk_size: 16M",
      "threads: 0",
      "io_threads: 4",
      "prefetch: 2",
      "device: cuda",
      "progress_interval: 5",
  }));
  EXPECT_EQ(job.method, MergeMethod::Linear);
  EXPECT_EQ(job.config_path, root_ / "configs" / "job.yaml");
  ASSERT_EQ(job.models.size(), 3u);
  EXPECT_EQ(job.models[0].path, model("base"));
  EXPECT_EQ(job.models[0].role, ModelRole::Base);
  EXPECT_FALSE(job.models[0].weight.has_value());
  EXPECT_EQ(job.models[0].line, 2);
  EXPECT_EQ(job.models[1].path, model("ft_a"));
  EXPECT_EQ(job.models[1].role, ModelRole::Peer);
  EXPECT_DOUBLE_EQ(*job.models[1].weight, 0.7);
  EXPECT_EQ(job.models[1].line, 4);
  EXPECT_EQ(job.models[2].path, model("ft_b"));
  EXPECT_DOUBLE_EQ(*job.models[2].weight, 0.3);
  EXPECT_EQ(job.reference_index(), 0u);
  EXPECT_TRUE(job.normalize);
  EXPECT_EQ(job.out_dtype, DType::BF16);
  EXPECT_EQ(job.output, root_ / "configs" / "merged");
  EXPECT_EQ(job.max_shard_size, 5'000'000'000u);
  EXPECT_EQ(job.chunk_size, 16'000'000u);
  EXPECT_EQ(job.threads, 0);
  EXPECT_EQ(job.io_threads, 4);
  EXPECT_EQ(job.prefetch, 2);
  EXPECT_EQ(job.device, DeviceChoice::Cuda);
  EXPECT_DOUBLE_EQ(job.progress_interval, 5.0);
}

TEST_F(ConfigTest, LinearWithoutBaseAndDefaults) {
  const Job job = load(lines({
      "merge_method: linear",
      "models:",
      "  - model: ../models/ft_a",
      "    parameters: {weight: 2}",
      "  - {model: ../models/ft_b, parameters: {weight: -0.5}}",
  }));
  ASSERT_EQ(job.models.size(), 2u);
  EXPECT_EQ(job.models[0].path, model("ft_a"));
  EXPECT_EQ(job.models[0].role, ModelRole::Peer);
  EXPECT_DOUBLE_EQ(*job.models[1].weight, -0.5);  // negative weights are allowed, as mergekit
  EXPECT_TRUE(job.output.empty());                // the CLI may supply it
  EXPECT_FALSE(job.out_dtype.has_value());
  const Job defaults;
  EXPECT_TRUE(job.normalize);
  EXPECT_EQ(job.max_shard_size, defaults.max_shard_size);
  EXPECT_EQ(job.chunk_size, defaults.chunk_size);
  EXPECT_EQ(job.threads, defaults.threads);
  EXPECT_EQ(job.io_threads, defaults.io_threads);
  EXPECT_EQ(job.prefetch, defaults.prefetch);
  EXPECT_EQ(job.device, DeviceChoice::Auto);
  EXPECT_DOUBLE_EQ(job.progress_interval, defaults.progress_interval);
}

TEST_F(ConfigTest, GlobalWeightIsTheDefault) {
  const Job job = load(lines({
      "merge_method: linear",
      "parameters: {weight: 0.25, normalize: false}",
      "models:",
      "  - model: ../models/ft_a",
      "  - model: ../models/ft_b",
      "    parameters: {weight: 0.5}",
      "  - model: ../models/ft_c",
      "    parameters:",
  }));
  ASSERT_EQ(job.models.size(), 3u);
  EXPECT_DOUBLE_EQ(*job.models[0].weight, 0.25);
  EXPECT_DOUBLE_EQ(*job.models[1].weight, 0.5);
  EXPECT_DOUBLE_EQ(*job.models[2].weight, 0.25);
  EXPECT_FALSE(job.normalize);
}

TEST_F(ConfigTest, BaseAlsoListedUnderModelsIsOneWeightedBase) {
  const Job job = load(lines({
      "merge_method: linear",
      "base_model: ../models/base",
      "models:",
      "  - model: ../models/ft_a",
      "    parameters: {weight: 0.6}",
      "  - model: ../models/base/",
      "    parameters: {weight: 0.4}",
  }));
  ASSERT_EQ(job.models.size(), 2u);
  EXPECT_EQ(job.models[0].path, model("base"));
  EXPECT_EQ(job.models[0].role, ModelRole::Base);
  EXPECT_DOUBLE_EQ(*job.models[0].weight, 0.4);
  EXPECT_EQ(job.models[1].path, model("ft_a"));
}

TEST_F(ConfigTest, LmCocktail) {
  const Job job = load(lines({
      "merge_method: lm_cocktail",
      "target: ../models/ft_a",
      "base_model: ../models/base",
      "parameters:",
      "  alpha: 0.3",
      "output: /tmp/absolute/out/",
  }));
  EXPECT_EQ(job.method, MergeMethod::LmCocktail);
  ASSERT_EQ(job.models.size(), 2u);
  EXPECT_EQ(job.models[0].path, model("base"));  // base first, whatever the file order
  EXPECT_EQ(job.models[0].role, ModelRole::Base);
  EXPECT_EQ(job.models[0].line, 3);
  EXPECT_EQ(job.models[1].path, model("ft_a"));
  EXPECT_EQ(job.models[1].role, ModelRole::Target);
  EXPECT_FALSE(job.models[1].weight.has_value());
  EXPECT_DOUBLE_EQ(job.alpha, 0.3);
  EXPECT_EQ(job.output, fs::path("/tmp/absolute/out"));
}

TEST_F(ConfigTest, LmCocktailDefaultAlphaAndBounds) {
  const std::string head = "merge_method: lm_cocktail\nbase_model: ../models/base\n"
                           "target: ../models/ft_a\n";
  EXPECT_DOUBLE_EQ(load(head).alpha, 0.5);
  EXPECT_DOUBLE_EQ(load(head + "parameters: {alpha: 0}\n").alpha, 0.0);
  EXPECT_DOUBLE_EQ(load(head + "parameters: {alpha: 1}\n").alpha, 1.0);
}

TEST_F(ConfigTest, LmCocktailWithExamplesEq1) {
  std::ofstream(model("ex.jsonl")) << "{}";
  const Job job = load(lines({
      "merge_method: lm_cocktail",
      "base_model: ../models/base",
      "target: ../models/ft_a",
      "models:",
      "  - model: ../models/ft_b",
      "  - model: ../models/ft_c",
      "examples: [../models/ex.jsonl, ../models/ex.jsonl]",
      "temperature: 3",
      "batch_size: 4",
      "max_input_length: 512",
      "neg_number: 3",
      "seed: 7",
      "loss_reduction: token_mean",
      "parameters: {alpha: 0.4}",
  }));
  ASSERT_TRUE(job.fewshot.has_value());
  EXPECT_TRUE(job.has_target());
  EXPECT_EQ(job.candidates(), (std::vector<size_t>{0, 2, 3}));  // base and peers, not the target
  EXPECT_EQ(job.fewshot->files.size(), 2u);
  EXPECT_EQ(job.fewshot->files[0], model("ex.jsonl"));
  EXPECT_EQ(job.fewshot->temperature, 3.0);
  EXPECT_EQ(job.fewshot->batch_size, 4);
  EXPECT_EQ(job.fewshot->max_input_length, 512);
  EXPECT_EQ(job.fewshot->neg_number, 3);
  EXPECT_EQ(job.fewshot->seed, 7u);
  EXPECT_EQ(job.fewshot->reduction, LossReduction::TokenMean);
  EXPECT_EQ(job.alpha, 0.4);
}

TEST_F(ConfigTest, WeightSearchKeys) {
  std::ofstream(model("ex.jsonl")) << "{}";
  const auto job_with = [&](std::initializer_list<std::string> extra) {
    std::string text = lines({"merge_method: lm_cocktail", "base_model: ../models/base", "models:",
                              "  - model: ../models/ft_b", "examples: ../models/ex.jsonl"});
    for (const std::string& l : extra) text += l + "\n";
    return load(text);
  };
  const Job plain = job_with({});
  EXPECT_EQ(plain.fewshot->weights, WeightChoice::Softmax);
  EXPECT_EQ(plain.fewshot->held_out, 0.0);
  EXPECT_EQ(plain.fewshot->cache_bytes, 0u);
  const Job search = job_with({"weights: search", "held_out: 0.25", "cache: 0",
                               "search: {algorithm: bobyqa, budget: 9, bounds: [0.1, 0.9], l1: 0, seed: 3}"});
  const FewShot& f = *search.fewshot;
  EXPECT_EQ(f.weights, WeightChoice::Search);
  EXPECT_EQ(f.held_out, 0.25);
  EXPECT_EQ(f.cache_bytes, 0u);
  EXPECT_EQ(f.search.algorithm, "bobyqa");
  EXPECT_EQ(f.search.budget, 9);
  EXPECT_EQ(f.search.lower, 0.1);
  EXPECT_EQ(f.search.upper, 0.9);
  EXPECT_TRUE(f.search.simplex);
  EXPECT_EQ(f.search.l1, 0.0);
  EXPECT_EQ(f.search.seed, 3u);
  // Off the simplex, LoraHub's bounds.
  const Job free = job_with({"weights: search", "cache: 2GB", "search: {simplex: false}"});
  EXPECT_EQ(free.fewshot->search.lower, -1.5);
  EXPECT_EQ(free.fewshot->search.upper, 1.5);
  EXPECT_EQ(free.fewshot->cache_bytes, 2'000'000'000u);
  EXPECT_EQ(job_with({"weights: greedy_soup"}).fewshot->weights, WeightChoice::GreedySoup);
  EXPECT_FALSE(search.fewshot->search.density_searched);
  const Job density = job_with({"weights: search", "search: {density: [0.2, 0.8]}"});
  EXPECT_TRUE(density.fewshot->search.density_searched);
  EXPECT_EQ(density.fewshot->search.density_lower, 0.2);
  EXPECT_EQ(density.fewshot->search.density_upper, 0.8);
  EXPECT_FALSE(search.fewshot->pipeline.has_value());  // auto
  EXPECT_EQ(job_with({"weights: search", "pipeline: true"}).fewshot->pipeline, true);
  EXPECT_EQ(job_with({"weights: greedy_soup", "pipeline: false"}).fewshot->pipeline, false);
  EXPECT_FALSE(job_with({"weights: search", "pipeline: auto"}).fewshot->pipeline.has_value());
  // A method of src/merge/methods/ is searched too (its models' weights).
  const Job ties = load(lines({"merge_method: ties", "base_model: ../models/base", "models:",
                               "  - model: ../models/ft_b", "examples: ../models/ex.jsonl", "weights: search"}));
  EXPECT_EQ(ties.fewshot->weights, WeightChoice::Search);
  EXPECT_EQ(ties.candidates(), (std::vector<size_t>{1}));
}

TEST(SettingsTest, ASetValueReplacesEveryWrittenOne) {
  Settings s = {plain_setting("density", "0.5", "a"), plain_setting("weight", "1", "b"),
                plain_setting("density", "0.7", "c")};
  set_plain_setting(s, "density", 0.1, "searched");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "weight");
  EXPECT_EQ(find_setting(s, "density")->conditions[0].value.items[0], "0.1");  // shortest exact text
  EXPECT_EQ(exact_number_text(0.1 + 0.2), "0.30000000000000004");
}

TEST_F(ConfigTest, LmCocktailWithExamplesEq4Defaults) {
  std::ofstream(model("ex.jsonl")) << "{}";
  const Job job = load(lines({
      "merge_method: lm_cocktail",
      "models:",
      "  - model: ../models/ft_a",
      "  - model: ../models/ft_b",
      "examples: ../models/ex.jsonl",
  }));
  EXPECT_FALSE(job.has_target());
  EXPECT_EQ(job.candidates(), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(job.fewshot->temperature, 5.0);  // the authors' signature default
  EXPECT_EQ(job.fewshot->batch_size, 2);
  EXPECT_EQ(job.fewshot->max_input_length, 2048);
  EXPECT_EQ(job.fewshot->neg_number, 7);
  EXPECT_EQ(job.fewshot->reduction, LossReduction::Upstream);
}

TEST_F(ConfigTest, ByteSizesInConfig) {
  const std::string head =
      "merge_method: linear\nmodels: [{model: ../models/ft_a, parameters: {weight: 1}}]\n";
  Job job = load(head + "max_shard_size: 2GiB\nchunk_size: 1048576\n");
  EXPECT_EQ(job.max_shard_size, 2ull << 30);
  EXPECT_EQ(job.chunk_size, 1048576u);
  job = load(head + "max_shard_size: 500mb\nchunk_size: 1024\n");
  EXPECT_EQ(job.max_shard_size, 500'000'000u);
  EXPECT_EQ(job.chunk_size, 1024u);
  job = load(head + "max_shard_size: 10000000000\nchunk_size: 64KiB\n");
  EXPECT_EQ(job.max_shard_size, 10'000'000'000u);
  EXPECT_EQ(job.chunk_size, 65536u);
}

TEST_F(ConfigTest, DtypeAliasesAndPrecedence) {
  const std::string head =
      "merge_method: linear\nmodels: [{model: ../models/ft_a, parameters: {weight: 1}}]\n";
  EXPECT_EQ(load(head + "dtype: bf16\n").out_dtype, DType::BF16);
  EXPECT_EQ(load(head + "dtype: half\n").out_dtype, DType::F16);
  EXPECT_EQ(load(head + "dtype: float\n").out_dtype, DType::F32);
  EXPECT_EQ(load(head + "out_dtype: float64\n").out_dtype, DType::F64);
  EXPECT_EQ(load(head + "out_dtype: float8_e4m3fn\n").out_dtype, DType::F8_E4M3);
  EXPECT_EQ(load(head + "out_dtype: float8_e5m2\n").out_dtype, DType::F8_E5M2);
  EXPECT_EQ(load(head + "dtype: float16\nout_dtype: float32\n").out_dtype, DType::F32);
  EXPECT_EQ(load(head + "out_dtype: float32\ndtype: float16\n").out_dtype, DType::F32);
}

TEST_F(ConfigTest, PathsAreRelativeToTheConfigFolder) {
  fs::create_directories(root_ / "configs" / "deep");
  const fs::path cfg = write(lines({
                                 "merge_method: linear",
                                 "base_model: ../../models/./base",
                                 "models:",
                                 "  - model: " + model("single.safetensors").string(),
                                 "    parameters: {weight: 1}",
                                 "output: out/../merged",
                             }),
                             "deep/job.yaml");
  // Loading from elsewhere must not change anything.
  const fs::path cwd = fs::current_path();
  fs::current_path(root_ / "models");
  const Job job = load_job(cfg);
  fs::current_path(cwd);
  ASSERT_EQ(job.models.size(), 2u);
  EXPECT_EQ(job.models[0].path, model("base"));
  EXPECT_EQ(job.models[1].path, model("single.safetensors"));
  EXPECT_EQ(job.output, root_ / "configs" / "deep" / "merged");
}

// mergekit's "BASE+ADAPTER", the `lora` key, and which spellings are one
// model: a base with an adapter is not the base, nor the base with another.
TEST_F(ConfigTest, LoraAdaptersAsModels) {
  for (const char* a : {"lora_a", "lora_b", "dir+with+plus"}) fs::create_directories(root_ / "models" / a);
  const Job job = load(lines({
      "merge_method: ties",
      "base_model: ../models/base",
      "models:",
      "  - model: ../models/base+../models/lora_a",
      "  - model: ../models/base",
      "    lora: ../models/lora_b",
      "  - model: ../models/dir+with+plus",
      "output_format: keras",
  }));
  ASSERT_EQ(job.models.size(), 4u);
  EXPECT_TRUE(job.models[0].adapter.empty());
  EXPECT_EQ(job.models[1].path, model("base"));
  EXPECT_EQ(job.models[1].adapter, model("lora_a"));
  EXPECT_EQ(job.models[1].name(), model("base").string() + "+" + model("lora_a").string());
  EXPECT_EQ(job.models[1].short_name(), "base+lora_a");
  EXPECT_EQ(job.models[2].adapter, model("lora_b"));
  // A path that exists as written is a path, '+' and all.
  EXPECT_EQ(job.models[3].path, model("dir+with+plus"));
  EXPECT_TRUE(job.models[3].adapter.empty());
  EXPECT_EQ(job.output_format, OutputChoice::Keras);

  std::string m = error_of(lines({"merge_method: ties", "models:", "  - model: ../models/base+../models/lora_a",
                                  "  - model: ../models/base", "    lora: ../models/lora_a"}));
  EXPECT_NE(m.find(prefix(4) + "key 'models[1].model': the model " + model("base").string() + "+" +
                   model("lora_a").string() + " is already listed"), std::string::npos) << m;
  m = error_of(lines({"merge_method: ties", "models:", "  - model: ../models/base+../models/lora_a",
                      "    lora: ../models/lora_b"}));
  EXPECT_NE(m.find("key 'models[0].lora': the model already names an adapter after '+'; give it once"),
            std::string::npos) << m;
  m = error_of(lines({"merge_method: ties", "models:", "  - model: ../models/base+../models/nowhere"}));
  EXPECT_NE(m.find("key 'models[0].model': no such file or folder: " + model("nowhere").string()), std::string::npos) << m;
}

TEST_F(ConfigTest, NormalizeOffAllowsWeightsSummingToZero) {
  const Job job = load(lines({
      "merge_method: linear",
      "parameters: {normalize: false}",
      "models:",
      "  - {model: ../models/ft_a, parameters: {weight: 1}}",
      "  - {model: ../models/ft_b, parameters: {weight: -1}}",
  }));
  EXPECT_EQ(job.models.size(), 2u);
}

// ---- rejected ---------------------------------------------------------------

struct Reject {
  const char* name;
  std::string yaml;
  int line;
  std::string key;
  std::string also = "";  // another part the message must hold
};

// Two valid lines shared by the linear cases: lines 1-2.
const std::string kLinear = "merge_method: linear\n";
const std::string kModelA = "  - {model: ../models/ft_a, parameters: {weight: 1}}";
const std::string kCocktail =
    "merge_method: lm_cocktail\nbase_model: ../models/base\ntarget: ../models/ft_a\n";

std::vector<Reject> rejects() {
  return {
      {"unknown top-level key", lines({"merge_method: linear", "models:", kModelA, "chunksize: 1M"}),
       4, "chunksize", "unknown key"},
      {"unknown key in parameters",
       lines({"merge_method: linear", "parameters:", "  normalise: true", "models:", kModelA}), 3,
       "parameters.normalise", "allowed: normalize, weight"},
      {"unknown key in a model entry",
       lines({"merge_method: linear", "models:", kModelA, "  - model: ../models/ft_b",
              "    weigth: 1"}),
       5, "models[1].weigth"},
      {"unknown key in a model's parameters",
       lines({"merge_method: linear", "models:", "  - model: ../models/ft_a",
              "    parameters: {weight: 1, density: 0.5}"}),
       4, "models[0].parameters.density"},
      {"alpha with linear",
       lines({"merge_method: linear", "parameters: {alpha: 0.5}", "models:", kModelA}), 2,
       "parameters.alpha"},
      {"weight not a number",
       lines({"merge_method: linear", "models:", kModelA, "  - model: ../models/ft_b",
              "    parameters:", "      weight: abc"}),
       6, "models[1].parameters.weight", "must be a finite number, got 'abc'"},
      {"weight a per-layer list",
       lines({"merge_method: linear", "models:", "  - model: ../models/ft_a",
              "    parameters: {weight: [0, 1]}"}),
       4, "models[0].parameters.weight", "got a list"},
      {"normalize not a bool",
       lines({"merge_method: linear", "models:", kModelA, "parameters:", "  normalize: 3"}), 5,
       "parameters.normalize", "got '3'"},
      {"models not a list", lines({"merge_method: linear", "models: ../models/ft_a"}), 2,
       "models"},
      {"models empty", lines({"merge_method: linear", "models: []"}), 2, "models"},
      {"models missing", lines({"merge_method: linear", "base_model: ../models/base"}), 1,
       "models"},
      {"model entry without model",
       lines({"merge_method: linear", "models:", "  - parameters: {weight: 1}"}), 3,
       "models[0].model"},
      {"model entry is a string", lines({"merge_method: linear", "models:", "  - ../models/ft_a"}),
       3, "models[0]"},
      {"chunk_size negative", lines({"merge_method: linear", "models:", kModelA, "chunk_size: -1"}),
       4, "chunk_size", "got '-1'"},
      {"chunk_size too small",
       lines({"merge_method: linear", "models:", kModelA, "chunk_size: 512"}), 4, "chunk_size",
       "at least 1024"},
      {"chunk_size zero", lines({"merge_method: linear", "models:", kModelA, "chunk_size: 0"}), 4,
       "chunk_size"},
      {"bad size suffix",
       lines({"merge_method: linear", "models:", kModelA, "max_shard_size: 5XB"}), 4,
       "max_shard_size", "got '5XB'"},
      {"fractional size", lines({"merge_method: linear", "models:", kModelA, "max_shard_size: 1.5G"}),
       4, "max_shard_size"},
      {"size overflow",
       lines({"merge_method: linear", "models:", kModelA, "max_shard_size: 20000000T"}), 4,
       "max_shard_size", "2^64"},
      {"missing path",
       lines({"merge_method: linear", "models:", kModelA, "  - model: ../models/nope",
              "    parameters: {weight: 1}"}),
       4, "models[1].model", "no such file or folder"},
      {"missing base path",
       lines({"merge_method: linear", "base_model: models/base", "models:", kModelA}), 2,
       "base_model", "no such file or folder"},
      {"duplicate model",
       lines({"merge_method: linear", "models:", kModelA, "  - model: ../models/./ft_a/",
              "    parameters: {weight: 1}"}),
       4, "models[1].model", "already listed as 'models[0].model' on line 3"},
      {"base twice in models",
       lines({"merge_method: linear", "base_model: ../models/base", "models:",
              "  - {model: ../models/base, parameters: {weight: 1}}",
              "  - {model: ../models/base, parameters: {weight: 1}}"}),
       5, "models[1].model", "on line 4"},
      {"weight missing",
       lines({"merge_method: linear", "models:", kModelA, "  - model: ../models/ft_b"}), 4,
       "models[1].parameters.weight", "no global parameters.weight"},
      {"NaN weight",
       lines({"merge_method: linear", "models:", "  - model: ../models/ft_a",
              "    parameters: {weight: .nan}"}),
       4, "models[0].parameters.weight", "finite"},
      {"nan weight",
       lines({"merge_method: linear", "models:", "  - model: ../models/ft_a",
              "    parameters: {weight: nan}"}),
       4, "models[0].parameters.weight", "finite"},
      {"infinite global weight",
       lines({"merge_method: linear", "parameters: {weight: .inf}", "models:",
              "  - model: ../models/ft_a"}),
       2, "parameters.weight", "finite"},
      {"weights sum to zero",
       lines({"merge_method: linear", "models:", kModelA,
              "  - {model: ../models/ft_b, parameters: {weight: -1}}"}),
       2, "parameters.normalize"},
      {"target with linear",
       lines({"merge_method: linear", "target: ../models/ft_b", "models:", kModelA}), 2,
       "target"},
      {"models with lm_cocktail", kCocktail + lines({"models:", kModelA}), 4, "models",
       "few-shot"},
      {"weight with lm_cocktail", kCocktail + lines({"parameters: {weight: 1}"}), 4,
       "parameters.weight", "allowed: alpha"},
      {"alpha NaN", kCocktail + lines({"parameters:", "  alpha: .nan"}), 5, "parameters.alpha"},
      {"alpha negative", kCocktail + lines({"parameters:", "  alpha: -0.1"}), 5,
       "parameters.alpha", "[0, 1]"},
      {"alpha above one", kCocktail + lines({"parameters:", "  alpha: 1.5"}), 5,
       "parameters.alpha", "[0, 1]"},
      {"lm_cocktail without target",
       lines({"merge_method: lm_cocktail", "base_model: ../models/base"}), 1, "target"},
      {"lm_cocktail without base", lines({"merge_method: lm_cocktail", "target: ../models/ft_a"}),
       1, "base_model"},
      {"target same as base",
       lines({"merge_method: lm_cocktail", "base_model: ../models/base",
              "target: ../models/base/"}),
       3, "target", "each model may appear once"},
      // Names other than linear and lm_cocktail are checked against
      // src/merge/methods/ once the job is read (BadInput.MethodUnknown).
      {"bad merge_method", lines({"merge_method: [ties]", "models:", kModelA}), 1, "merge_method",
       "a method name such as linear, lm_cocktail or ties"},
      {"missing merge_method", lines({"models:", kModelA}), 1, "merge_method"},
      {"bad dtype", lines({"merge_method: linear", "models:", kModelA, "dtype: int8"}), 4, "dtype",
       "got 'int8'"},
      {"bad out_dtype beside a good dtype",
       lines({"merge_method: linear", "models:", kModelA, "dtype: bf16", "out_dtype: float4"}), 5,
       "out_dtype"},
      {"threads negative", lines({"merge_method: linear", "models:", kModelA, "threads: -1"}), 4,
       "threads"},
      {"threads fractional", lines({"merge_method: linear", "models:", kModelA, "threads: 2.5"}), 4,
       "threads"},
      {"io_threads zero", lines({"merge_method: linear", "models:", kModelA, "io_threads: 0"}), 4,
       "io_threads"},
      {"prefetch too deep", lines({"merge_method: linear", "models:", kModelA, "prefetch: 65"}), 4,
       "prefetch", "[1, 64]"},
      {"unknown device", lines({"merge_method: linear", "models:", kModelA, "device: gpu"}), 4,
       "device", "auto, cpu or cuda"},
      {"progress_interval negative",
       lines({"merge_method: linear", "models:", kModelA, "progress_interval: -1"}), 4,
       "progress_interval"},
      {"output not a path", lines({"merge_method: linear", "models:", kModelA, "output: [a]"}), 4,
       "output"},
      {"examples with linear", lines({"merge_method: linear", "models:", kModelA,
                                      "examples: ../models/ex.jsonl"}),
       4, "examples", "not linear"},
      {"missing example file", kCocktail + lines({"examples: ../models/none.jsonl"}), 4,
       "examples", "no such file"},
      {"temperature without examples", kCocktail + lines({"temperature: 2"}), 4, "temperature",
       "only used with 'examples'"},
      {"temperature zero", kCocktail + lines({"examples: ../models/ex.jsonl", "temperature: 0"}), 5,
       "temperature", "> 0"},
      {"bad loss_reduction",
       kCocktail + lines({"examples: ../models/ex.jsonl", "loss_reduction: median"}), 5,
       "loss_reduction", "upstream or token_mean"},
      {"batch_size zero", kCocktail + lines({"examples: ../models/ex.jsonl", "batch_size: 0"}), 5,
       "batch_size"},
      {"weights search with a target", kCocktail + lines({"examples: ../models/ex.jsonl", "weights: search"}), 5,
       "weights", "remove 'target'"},
      {"search without weights: search", kCocktail + lines({"examples: ../models/ex.jsonl", "search: {budget: 3}"}),
       5, "search", "only used with 'weights: search'"},
      {"pipeline with softmax weights", kCocktail + lines({"examples: ../models/ex.jsonl", "pipeline: true"}), 5,
       "pipeline", "only used with 'weights: search' or 'weights: greedy_soup'"},
      {"pipeline unknown",
       lines({"merge_method: lm_cocktail", "base_model: ../models/base", "models:", "  - model: ../models/ft_b",
              "examples: ../models/ex.jsonl", "weights: search", "pipeline: maybe"}),
       7, "pipeline", "auto, true or false"},
      {"held_out of 1", kCocktail + lines({"examples: ../models/ex.jsonl", "held_out: 1"}), 5, "held_out",
       "a fraction in [0, 1)"},
      {"weights unknown", kCocktail + lines({"examples: ../models/ex.jsonl", "weights: best"}), 5, "weights",
       "softmax, search or greedy_soup"},
      {"peer weight with lm_cocktail",
       kCocktail + lines({"examples: ../models/ex.jsonl", "models:",
                          "  - {model: ../models/ft_b, parameters: {weight: 1}}"}),
       6, "models[0].parameters", "comes from the examples"},
      {"alpha without target",
       lines({"merge_method: lm_cocktail", "base_model: ../models/base", "parameters: {alpha: 0.3}",
              "examples: ../models/ex.jsonl", "models:", "  - model: ../models/ft_b"}),
       3, "parameters.alpha", "add 'target'"},
      {"tokenizer_source not merged", lines({"merge_method: linear", "models:", kModelA, "tokenizer_source: ../models/ft_c"}),
       4, "tokenizer_source", "not one of this merge's models"},
      {"tokenizer twice", lines({"merge_method: linear", "models:", kModelA, "tokenizer_source: union",
                                 "tokenizer: {source: base}"}),
       5, "tokenizer", "not both"},
      {"token source not merged",
       lines({"merge_method: linear", "models:", kModelA, "tokenizer:", "  tokens: {x: {source: ../models/ft_c}}"}), 5,
       "tokenizer.tokens.x.source", "not one of this merge's models"},
      {"model_token without a token", lines({"merge_method: linear", "models:", kModelA, "tokenizer:",
                                             "  tokens: {x: {source: {kind: model_token, model: ../models/ft_a}}}"}),
       5, "tokenizer.tokens.x.source", "one of token_id and token"},
      // A tag with no text reads as an empty scalar (found by fuzz_job_config).
      {"empty method name", lines({"merge_method: !inear", "models:", kModelA}), 1, "merge_method",
       "a method name"},
      {"slice residual_weight",
       lines({"merge_method: passthrough", "slices:", "  - sources:", "      - model: ../models/ft_a",
              "        layer_range: [0, 1]", "    residual_weight: 0.5"}),
       6, "slices[0].residual_weight", "never uses it; remove it"},
      {"duplicate key",
       lines({"merge_method: linear", "models:", kModelA, "chunk_size: 1M", "chunk_size: 2M"}), 5,
       "chunk_size", "first on line 4"},
  };
}

TEST_F(ConfigTest, RejectsNameKeyAndLine) {
  for (const Reject& c : rejects()) {
    SCOPED_TRACE(c.name);
    const std::string msg = error_of(c.yaml);
    EXPECT_EQ(msg.rfind(prefix(c.line) + "key '" + c.key + "': ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.also), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(ConfigTest, RejectsWholeFileProblems) {
  EXPECT_EQ(error_of(""), prefix(1) + "the config is empty");
  EXPECT_EQ(error_of("# only a comment\n"), prefix(1) + "the config is empty");
  std::string msg = error_of(lines({"merge_method: linear", "output: merged", "  chunk_size: 1M"}));
  EXPECT_EQ(msg.rfind(prefix(3) + "YAML syntax error", 0), 0u) << msg;
  msg = error_of(lines({"merge_method: linear", "models: [", "chunk_size: 1M", "  bad: : x"}));
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
  msg = error_of(lines({"- merge_method: linear"}));
  EXPECT_EQ(msg.rfind(prefix(1) + "the config must be a mapping", 0), 0u) << msg;
  msg = error_of(lines({"merge_method: linear", "---", "merge_method: linear"}));
  EXPECT_EQ(msg.rfind(prefix(2) + "more than one YAML document", 0), 0u) << msg;
  // yaml-cpp 0.7's LoadAll loops forever on these (found by tests/fuzz).
  EXPECT_EQ(error_of(","), prefix(1) + "the config is empty");
  msg = error_of(lines({"merge_method: linear", "---", ", x {"}));
  EXPECT_EQ(msg.rfind(prefix(2) + "more than one YAML document", 0), 0u) << msg;
}

TEST_F(ConfigTest, MissingConfigFile) {
  EXPECT_THROW(load_job(root_ / "configs" / "absent.yaml"), Error);
}

// ---- parse_byte_size --------------------------------------------------------

TEST(ParseByteSize, DecimalAndBinarySuffixes) {
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("4096B"), 4096u);
  EXPECT_EQ(parse_byte_size("1K"), 1'000u);
  EXPECT_EQ(parse_byte_size("1kb"), 1'000u);
  EXPECT_EQ(parse_byte_size("500M"), 500'000'000u);
  EXPECT_EQ(parse_byte_size("5G"), 5'000'000'000u);
  EXPECT_EQ(parse_byte_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_byte_size("5gb"), 5'000'000'000u);
  EXPECT_EQ(parse_byte_size("2T"), 2'000'000'000'000u);
  EXPECT_EQ(parse_byte_size("1KiB"), 1024u);
  EXPECT_EQ(parse_byte_size("16mib"), 16u << 20);
  EXPECT_EQ(parse_byte_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("3TIB"), 3ull << 40);
  EXPECT_EQ(parse_byte_size(" 5 GB "), 5'000'000'000u);
  EXPECT_EQ(parse_byte_size("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_byte_size("16777215TiB"), 16777215ull << 40);
}

TEST(ParseByteSize, Rejects) {
  for (const char* bad : {"", "  ", "G", "-1", "+5", "0", "0G", "1.5G", "5X", "5 G B", "5GiBs",
                          "0x10", "18446744073709551616", "20000000T", "16777216TiB"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_byte_size(bad), std::invalid_argument);
  }
}

TEST(ParseByteSize, MessageQuotesTheInput) {
  try {
    parse_byte_size("5XB");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("got '5XB'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cocktail
