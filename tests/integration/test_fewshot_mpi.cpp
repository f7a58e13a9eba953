// LM-Cocktail weights from few-shot examples under real mpirun, against the
// losses transformers computed for the committed fixtures
// (tests/fixtures/expected/weights.json): the same weights at 1, 2 and 3 ranks,
// and merges whose report carries them.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixture_models.hpp"
#include "io/checkpoint.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

struct Row {
  std::string name;
  double loss = 0, weight = 0;
};

// The "candidate loss weight" table rank 0 prints.
std::vector<Row> table(const std::string& output) {
  std::vector<Row> rows;
  std::istringstream in(output);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("candidate") != std::string::npos && line.find("weight") != std::string::npos) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    std::istringstream fields(line);
    Row r;
    if (!(fields >> r.name >> r.loss >> r.weight)) break;
    rows.push_back(r);
  }
  return rows;
}

nlohmann::json expected_weights() {
  return nlohmann::json::parse(read_file(kFixtures / "expected/weights.json"));
}

std::string model(const std::string& name) { return (kFixtures / "models" / name).string(); }

// Eq. 4 over the llama base and its three peers: the fixture's candidate order.
std::string eq4_config(double temperature, const std::string& reduction) {
  return "merge_method: lm_cocktail\n"
         "base_model: " + model("llama-fp32") + "\n"
         "models:\n"
         "  - model: " + model("llama-peer1-fp32") + "\n"
         "  - model: " + model("llama-peer2-fp32") + "\n"
         "  - model: " + model("llama-peer3-fp32") + "\n"
         "examples: " + (kFixtures / "examples/decoder.jsonl").string() + "\n"
         "temperature: " + std::to_string(temperature) + "\n"
         "loss_reduction: " + reduction + "\n"
         "progress_interval: 0\n";
}

}  // namespace

TEST(FewShotMpi, EvalGivesTransformersWeightsAtAnyRankCount) {
  TempDir dir("fewshot");
  const auto expected = expected_weights()["settings"]["default"];
  for (const std::string reduction : {"upstream", "token_mean"}) {
    const fs::path cfg = dir.path / ("eq4-" + reduction + ".yaml");
    write_file(cfg, eq4_config(1.0, reduction));
    const auto& want_losses = expected[reduction == "upstream" ? "losses" : "losses_token_mean"];
    const auto& want_weights =
        expected["by_temperature"][1][reduction == "upstream" ? "weights" : "weights_token_mean"];
    std::vector<Row> first;
    for (int ranks : {1, 2, 3}) {
      const RunResult r = run_mpi(ranks, {"eval", cfg.string()});
      ASSERT_EQ(r.status, 0) << r.output;
      const std::vector<Row> rows = table(r.output);
      ASSERT_EQ(rows.size(), 4u) << r.output;
      for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_NEAR(rows[i].loss, want_losses[i].get<double>(), 1e-4 * want_losses[i].get<double>())
            << reduction << " " << rows[i].name;
        EXPECT_NEAR(rows[i].weight, want_weights[i].get<double>(), 1e-5) << reduction << " " << rows[i].name;
      }
      if (first.empty()) {
        first = rows;
      } else {
        for (size_t i = 0; i < rows.size(); ++i) {  // printed digits identical at any rank count
          EXPECT_EQ(rows[i].loss, first[i].loss) << ranks << " ranks";
          EXPECT_EQ(rows[i].weight, first[i].weight) << ranks << " ranks";
        }
      }
    }
  }
}

TEST(FewShotMpi, Eq1MergeRecordsLossesAndMixesTheTarget) {
  TempDir dir("fewshot");
  const fs::path cfg = dir.path / "eq1.yaml";
  write_file(cfg, "merge_method: lm_cocktail\n"
                  "base_model: " + model("llama-fp32") + "\n"
                  "target: " + model("llama-peer3-fp32") + "\n"
                  "models:\n"
                  "  - model: " + model("llama-peer1-fp32") + "\n"
                  "  - model: " + model("llama-peer2-fp32") + "\n"
                  "examples: " + (kFixtures / "examples/decoder.jsonl").string() + "\n"
                  "parameters: {alpha: 0.4}\n"
                  "output: " + (dir.path / "out").string() + "\n"
                  "progress_interval: 0\n");
  const RunResult r = run_mpi(2, {cfg.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = nlohmann::json::parse(read_file(dir.path / "out/merge_report.json"));
  const auto& fewshot = report["fewshot"];
  ASSERT_EQ(fewshot["candidates"].size(), 3u);
  // Candidates: base, peer1, peer2 = the fixture's candidates 0, 1, 2.
  const auto losses = expected_weights()["settings"]["default"]["losses"];
  double z = 0;
  for (int i = 0; i < 3; ++i) z += std::exp(-losses[i].get<double>() / 5.0);
  for (int i = 0; i < 3; ++i) {
    const double loss = losses[i].get<double>();
    EXPECT_NEAR(fewshot["candidates"][i]["loss"].get<double>(), loss, 1e-4 * loss);
    EXPECT_NEAR(fewshot["candidates"][i]["weight"].get<double>(), std::exp(-loss / 5.0) / z, 1e-5);
  }
  // The merge weights: the target alpha, the candidates (1 - alpha) * w_i.
  const auto& models = report["models"];
  ASSERT_EQ(models.size(), 4u);
  EXPECT_EQ(models[1]["role"], "target");
  EXPECT_NEAR(models[1]["weight"].get<double>(), 0.4, 1e-7);
  EXPECT_NEAR(models[0]["weight"].get<double>(),
              0.6 * fewshot["candidates"][0]["weight"].get<double>(), 1e-7);
  const std::string metadata = read_file(dir.path / "out/model.safetensors");
  EXPECT_NE(metadata.find("fewshot_losses"), std::string::npos);
}

// ... and as one process without mpirun (kAlone: no MPI).
TEST(FewShotMpi, SameLossesWeightsAndBytesAtOneTwoAndThreeRanks) {
  TempDir dir("fewshot");
  const fs::path cfg = dir.path / "eq4.yaml";
  write_file(cfg, eq4_config(5.0, "upstream"));
  std::map<std::string, std::string> first;
  for (int ranks : {1, 2, 3, kAlone}) {
    const fs::path out = dir.path / ("out" + std::to_string(ranks));
    const RunResult r = run_ranks(ranks, {cfg.string(), "--output", out.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(out)) files[e.path().filename()] = read_file(e.path());
    if (first.empty()) first = files;
    else EXPECT_EQ(files, first) << "losses (full precision in merge_report.json), weights and "
                                    "merged bytes must not depend on the rank count";
  }
  // Nor on the thread count (OpenBLAS's products would, on more than one).
  const fs::path threads = dir.path / "eq4-threads.yaml";
  write_file(threads, eq4_config(5.0, "upstream") + "threads: 4\n");
  const fs::path out = dir.path / "out-threads";
  const RunResult r = run_mpi(1, {threads.string(), "--output", out.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(out)) files[e.path().filename()] = read_file(e.path());
  EXPECT_TRUE(files == first) << "the output differs at threads: 4";
}

// Embedding models: the fixture used each example's first 3 negatives; with
// exactly 3 per example every sample is a permutation of them, which leaves
// the in-batch cross-entropy unchanged, so the seeded sampling must agree.
TEST(FewShotMpi, EncoderLossesMatchTransformers) {
  TempDir dir("fewshot");
  std::ifstream in(kFixtures / "examples/encoder.jsonl");
  std::string examples;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto e = nlohmann::json::parse(line);
    e["neg"] = std::vector<std::string>(e["neg"].begin(), e["neg"].begin() + 3);
    examples += e.dump() + "\n";
  }
  write_file(dir.path / "enc.jsonl", examples);
  const fs::path cfg = dir.path / "enc.yaml";
  write_file(cfg, "merge_method: lm_cocktail\n"
                  "models:\n"
                  "  - model: " + model("bert-fp32") + "\n"
                  "  - model: " + model("xlm-roberta-fp32") + "\n"
                  "examples: " + (dir.path / "enc.jsonl").string() + "\n"
                  "neg_number: 3\n"
                  "seed: 11\n");
  const auto expected = nlohmann::json::parse(read_file(kFixtures / "expected/encoder_losses.json"));
  for (int ranks : {1, 2}) {
    const RunResult r = run_mpi(ranks, {"eval", cfg.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::vector<Row> rows = table(r.output);
    ASSERT_EQ(rows.size(), 2u) << r.output;
    const char* names[] = {"bert-fp32", "xlm-roberta-fp32"};
    for (int i = 0; i < 2; ++i) {
      const double want = expected["models"][names[i]]["settings"]["default"]["candidate_loss"].get<double>();
      EXPECT_NEAR(rows[i].loss, want, 1e-4 * want) << names[i] << " at " << ranks << " ranks";
    }
  }
}

// An embedding-model merge loads with SentenceTransformer(path): CLS pooling
// then Normalize, the embedding the few-shot loss scores (checked by hand
// against sentence-transformers 5 and transformers: identical vectors).
TEST(FewShotMpi, EncoderMergeWritesSentenceTransformersModules) {
  TempDir dir("fewshot");
  const fs::path cfg = dir.path / "enc-merge.yaml";
  write_file(cfg, "merge_method: linear\n"
                  "models:\n"
                  "  - {model: " + model("bert-fp32") + ", parameters: {weight: 0.5}}\n"
                  "  - {model: " + model("bert-bf16") + ", parameters: {weight: 0.5}}\n"
                  "output: " + (dir.path / "out").string() + "\n");
  const RunResult r = run_mpi(2, {cfg.string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto modules = nlohmann::json::parse(read_file(dir.path / "out/modules.json"));
  ASSERT_EQ(modules.size(), 3u);
  EXPECT_EQ(modules[1]["type"], "sentence_transformers.models.Pooling");
  EXPECT_EQ(modules[2]["type"], "sentence_transformers.models.Normalize");
  const auto pooling = nlohmann::json::parse(read_file(dir.path / "out/1_Pooling/config.json"));
  EXPECT_EQ(pooling["pooling_mode_cls_token"], true);
  EXPECT_EQ(pooling["pooling_mode_mean_tokens"], false);
  EXPECT_EQ(pooling["word_embedding_dimension"], 64);
  EXPECT_TRUE(fs::is_directory(dir.path / "out/2_Normalize"));
}

// Rerankers (cross-encoders) with data: the loss as FlagEmbedding trains
// rerankers, the same at any rank count, and the merged folder keeps the
// classification head and is a plain transformers folder (what
// sentence-transformers' CrossEncoder loads), without embedder modules.
TEST(FewShotMpi, RerankerLossesMatchTransformersAndTheMergeKeepsTheHead) {
  TempDir dir("fewshot");
  const std::string reranker = model("xlm-roberta-reranker-fp32");
  const fs::path cfg = dir.path / "rerank.yaml";
  write_file(cfg, "merge_method: lm_cocktail\n"
                  "models:\n  - model: " + reranker + "\n"
                  "examples: " + (kFixtures / "examples/encoder.jsonl").string() + "\n"
                  "neg_number: 3\nbatch_size: 2\nseed: 0\n");
  const auto expected = nlohmann::json::parse(read_file(kFixtures / "expected/reranker_losses.json"));
  const double want = expected["models"]["xlm-roberta-reranker-fp32"]["settings"]["default"]["candidate_loss"];
  for (int ranks : {1, 2, 3}) {
    const RunResult r = run_mpi(ranks, {"eval", cfg.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::vector<Row> rows = table(r.output);
    ASSERT_EQ(rows.size(), 1u) << r.output;
    EXPECT_NEAR(rows[0].loss, want, 1e-4 * want) << ranks << " ranks";
  }
  // A peer: the same reranker in another folder (its weight is then 1/2).
  fs::copy(reranker, dir.path / "peer", fs::copy_options::recursive);
  const fs::path merge = dir.path / "merge.yaml";
  write_file(merge, "merge_method: lm_cocktail\nbase_model: " + reranker + "\n"
                    "models:\n  - model: " + (dir.path / "peer").string() + "\n"
                    "examples: " + (kFixtures / "examples/encoder.jsonl").string() + "\n"
                    "neg_number: 3\noutput: " + (dir.path / "out").string() + "\n");
  const RunResult m = run_mpi(2, {merge.string()});
  ASSERT_EQ(m.status, 0) << m.output;
  const cocktail::Checkpoint out = cocktail::Checkpoint::open(dir.path / "out");
  for (const char* t : {"classifier.dense.weight", "classifier.out_proj.weight", "classifier.out_proj.bias"})
    EXPECT_TRUE(out.find(t) != nullptr) << t;
  const auto config = nlohmann::json::parse(read_file(dir.path / "out/config.json"));
  EXPECT_EQ(config["architectures"][0], "XLMRobertaForSequenceClassification");
  EXPECT_FALSE(fs::exists(dir.path / "out/modules.json"));
}

// A reranker whose checkpoint has no classification head (an embedding
// model's weights under a cross-encoder config), and reranker examples with
// fewer negatives than the group needs: one line on every rank, naming them.
TEST(FewShotMpi, RerankerWithoutAHeadOrNegativesFailsWithTheCulprit) {
  TempDir dir("fewshot");
  fs::copy(model("xlm-roberta-fp32"), dir.path / "headless", fs::copy_options::recursive);
  auto config = nlohmann::json::parse(read_file(dir.path / "headless/config.json"));
  config["architectures"] = {"XLMRobertaForSequenceClassification"};
  write_file(dir.path / "headless/config.json", config.dump(2));
  const std::string examples = (kFixtures / "examples/encoder.jsonl").string();
  const fs::path cfg = dir.path / "headless.yaml";
  write_file(cfg, "merge_method: lm_cocktail\nmodels:\n  - model: " + (dir.path / "headless").string() +
                      "\nexamples: " + examples + "\nneg_number: 3\n");
  RunResult r = run_mpi(2, {"eval", cfg.string()}, /*every_rank_finishes=*/true);
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("headless: tensor 'classifier.dense.weight' is missing"), 1)
      << r.output;

  const fs::path few = dir.path / "few.yaml";
  write_file(few, "merge_method: lm_cocktail\nmodels:\n  - model: " + model("xlm-roberta-reranker-fp32") +
                      "\nexamples: " + examples + "\nneg_number: 4\n");
  r = run_mpi(2, {"eval", few.string()}, /*every_rank_finishes=*/true);
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("encoder.jsonl:2: 3 negatives, fewer than neg_number 4"), 1) << r.output;
}

// Encoder-decoders (T5) with data: the loss of the target given the input,
// transformers' for each candidate, weights = softmax(-L / T) of those, the
// same digits at any rank count; the merged folder is a T5 folder again.
TEST(FewShotMpi, EncoderDecoderWeightsMatchTransformersAtAnyRankCount) {
  TempDir dir("fewshot");
  const std::vector<std::string> names = {"t5-fp32", "t5-peer1-fp32", "t5-bf16"};
  const fs::path cfg = dir.path / "t5.yaml";
  const std::string job = "merge_method: lm_cocktail\nbase_model: " + model(names[0]) + "\nmodels:\n"
                          "  - model: " + model(names[1]) + "\n  - model: " + model(names[2]) + "\n"
                          "examples: " + (kFixtures / "examples/decoder.jsonl").string() + "\n"
                          "temperature: 0.5\nprogress_interval: 0\n";
  write_file(cfg, job);
  const auto expected = nlohmann::json::parse(read_file(kFixtures / "expected/encoder_decoder_losses.json"));
  std::vector<double> want, weight;
  double total = 0;
  for (const std::string& n : names) {
    want.push_back(expected["models"][n]["settings"]["default"]["candidate_loss"].get<double>());
    weight.push_back(std::exp(-want.back() / 0.5));
    total += weight.back();
  }
  std::vector<Row> first;
  for (int ranks : {1, 2, 3}) {
    const RunResult r = run_mpi(ranks, {"eval", cfg.string()});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::vector<Row> rows = table(r.output);
    ASSERT_EQ(rows.size(), names.size()) << r.output;
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_NEAR(rows[i].loss, want[i], 1e-4 * want[i]) << names[i] << ", " << ranks << " ranks";
      EXPECT_NEAR(rows[i].weight, weight[i] / total, 1e-5) << names[i] << ", " << ranks << " ranks";
      if (!first.empty()) {
        EXPECT_EQ(rows[i].loss, first[i].loss) << ranks << " ranks";
        EXPECT_EQ(rows[i].weight, first[i].weight) << ranks << " ranks";
      }
    }
    if (first.empty()) first = rows;
  }
  write_file(cfg, job + "output: " + (dir.path / "out").string() + "\n");
  const RunResult m = run_mpi(2, {cfg.string()});
  ASSERT_EQ(m.status, 0) << m.output;
  const cocktail::Checkpoint out = cocktail::Checkpoint::open(dir.path / "out");
  EXPECT_EQ(out.tensors().size(), cocktail::Checkpoint::open(model(names[0])).tensors().size());
  const auto config = nlohmann::json::parse(read_file(dir.path / "out/config.json"));
  EXPECT_EQ(config["architectures"][0], "T5ForConditionalGeneration");
  EXPECT_TRUE(fs::exists(dir.path / "out/tokenizer.json"));
}

TEST(FewShotMpi, BadExamplesFailEveryRankWithTheLine) {
  TempDir dir("fewshot");
  const fs::path cfg = dir.path / "bad.yaml";
  std::string text = eq4_config(5.0, "upstream");
  const std::string good = (kFixtures / "examples/decoder.jsonl").string();
  text.replace(text.find(good), good.size(), (dir.path / "bad.jsonl").string());
  write_file(cfg, text);
  write_file(dir.path / "bad.jsonl", "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"only\"}\n");
  const RunResult r = run_mpi(2, {"eval", cfg.string()}, /*every_rank_finishes=*/true);
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("bad.jsonl:2: missing \"output\""), 1) << r.output;
}

// libtorch is the few-shot module's (libcocktail_fewshot.so), loaded when a
// job has examples: a plain merge and inspect never load it, and the
// dynamic loader's own log (LD_DEBUG=files) says which libraries a run opened.
TEST(FewShotMpi, LibtorchLoadsOnlyForTheFewShotStep) {
  TempDir dir("fewshot");
  const fs::path plain = dir.path / "plain.yaml", eval = dir.path / "eval.yaml";
  write_file(plain, "merge_method: linear\nparameters: {weight: 0.5}\nmodels:\n  - model: " + model("llama-fp32") +
                        "\n  - model: " + model("llama-peer1-fp32") + "\noutput: " + (dir.path / "out").string() +
                        "\nprogress_interval: 0\n");
  write_file(eval, eq4_config(1.0, "upstream"));
  const ScopedEnv trace("LD_DEBUG", "files");
  const RunResult merge = run_mpi(2, {plain.string()});
  ASSERT_EQ(merge.status, 0) << merge.output;
  EXPECT_FALSE(merge.opened_library("libtorch_cpu.so")) << "a plain merge loaded libtorch";
  EXPECT_FALSE(merge.opened_library("libcocktail_fewshot.so"));
  const RunResult inspect = run_mpi(1, {"inspect", model("llama-fp32")});
  ASSERT_EQ(inspect.status, 0) << inspect.output;
  EXPECT_FALSE(inspect.opened_library("libtorch_cpu.so")) << "inspect loaded libtorch";
  const RunResult scored = run_mpi(2, {"eval", eval.string()});
  ASSERT_EQ(scored.status, 0) << scored.output;
  EXPECT_TRUE(scored.opened_library("libcocktail_fewshot.so"));
  EXPECT_TRUE(scored.opened_library("libtorch_cpu.so")) << "the check above would not see libtorch";
}
