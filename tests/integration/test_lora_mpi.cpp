// LoRA adapters as candidates under real mpirun (tests/fixtures/lora/):
// a merge of base+adapter candidates writes the bytes of the same merge of
// the adapters materialised first, at any rank count and chunk size; the
// few-shot step scores base+adapter without writing it; an adapter that
// does not fit stops every rank with one line.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "fixture_models.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;
using json = nlohmann::json;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

std::string base() { return (kFixtures / "models/llama-fp32").string(); }
std::string adapter(const std::string& name) { return (kFixtures / "lora" / name).string(); }

RunResult merge(const TempDir& dir, const std::string& name, const std::string& text, int ranks = 1,
                const std::string& flag = "") {
  write_file(dir.path / (name + ".yaml"), text + "output: " + (dir.path / name).string() + "\nprogress_interval: 0\n");
  std::vector<std::string> args{(dir.path / (name + ".yaml")).string()};
  if (!flag.empty()) args.push_back(flag);
  return run_mpi(ranks, args);
}

// base+adapter written out as a model of its own: a linear merge of it alone.
std::string materialise(const TempDir& dir, const std::string& name) {
  const RunResult r = merge(dir, "mat-" + name, "merge_method: linear\nmodels:\n  - model: " + base() + "+" +
                                                    adapter(name) + "\n    parameters: {weight: 1}\n");
  EXPECT_EQ(r.status, 0) << r.output;
  return (dir.path / ("mat-" + name)).string();
}

// A ties merge of two LoRA candidates (one spelled "+", one with the `lora`
// key) and a plain peer.
std::string ties(const std::string& qv, const std::string& rs, const std::string& extra = "") {
  return "merge_method: ties\nbase_model: " + base() + "\nparameters: {density: 0.6, weight: 0.5}\nmodels:\n" + qv +
         rs + "  - model: " + (kFixtures / "models/llama-peer1-fp32").string() + "\n" + extra;
}

}  // namespace

TEST(LoraMpi, CandidatesMergeAsTheirMaterialisedModelsAtAnyScale) {
  const TempDir dir("lora");
  const std::string qv = materialise(dir, "llama-fp32-qv"), rs = materialise(dir, "llama-fp32-rs");
  const RunResult m = merge(dir, "materialised", ties("  - model: " + qv + "\n", "  - model: " + rs + "\n"));
  ASSERT_EQ(m.status, 0) << m.output;
  const std::string want = tensor_bytes(dir.path / "materialised/model.safetensors");
  const std::string lora_qv = "  - model: " + base() + "+" + adapter("llama-fp32-qv") + "\n";
  const std::string lora_rs = "  - model: " + base() + "\n    lora: " + adapter("llama-fp32-rs") + "\n";
  for (const auto& [ranks, extra] : std::vector<std::pair<int, std::string>>{
           {1, ""}, {2, "chunk_size: 4KiB\n"}, {3, "chunk_size: 1KiB\nio_threads: 3\n"}}) {
    const std::string name = "lora" + std::to_string(ranks);
    const RunResult r = merge(dir, name, ties(lora_qv, lora_rs, extra), ranks);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(tensor_bytes(dir.path / name / "model.safetensors") == want) << ranks << " ranks, " << extra;
    // The summary names the candidates as written.
    EXPECT_NE(r.output.find("llama-fp32+llama-fp32-qv"), std::string::npos) << r.output;
  }
  // The GPU path's code run on the CPU, which adds each update to its copy
  // of the unit after the upload (kernels/lora_update.hpp): the same bytes,
  // for a method's kernel and for the weighted sum.
  for (const int ranks : {1, 2}) {
    const std::string name = "emulated" + std::to_string(ranks);
    const RunResult r = merge(dir, name, ties(lora_qv, lora_rs, "chunk_size: 1KiB\n"), ranks, "--emulate-gpu");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.lines_containing("compute  cuda emulated"), 1) << r.output;
    EXPECT_TRUE(tensor_bytes(dir.path / name / "model.safetensors") == want) << ranks << " ranks, emulated GPU";
  }
  const std::string linear = "merge_method: linear\nmodels:\n" + lora_qv + "    parameters: {weight: 0.3}\n" +
                             lora_rs + "    parameters: {weight: 0.7}\n";
  ASSERT_EQ(merge(dir, "linear-cpu", linear).status, 0);
  const RunResult e = merge(dir, "linear-emulated", linear + "chunk_size: 1KiB\n", 2, "--emulate-gpu");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_TRUE(tensor_bytes(dir.path / "linear-emulated/model.safetensors") ==
              tensor_bytes(dir.path / "linear-cpu/model.safetensors"));

  // The recipe a user replays names base+adapter.
  const json report = json::parse(read_file(dir.path / "lora1/merge_report.json"));
  EXPECT_NE(report.dump().find(base() + "+" + adapter("llama-fp32-qv")), std::string::npos) << report.dump();
}

TEST(LoraMpi, FewShotScoresBaseAndAdapterWithoutWritingIt) {
  const TempDir dir("lora");
  const std::string qv = materialise(dir, "llama-fp32-qv"), rs = materialise(dir, "llama-fp32-rs");
  const auto job = [&](const std::string& a, const std::string& b) {
    return "merge_method: lm_cocktail\nbase_model: " + base() + "\nmodels:\n  - model: " + a + "\n  - model: " + b +
           "\nexamples: " + (kFixtures / "examples/synthetic_mixture.jsonl").string() + "\nbatch_size: 4\n";
  };
  const RunResult m = merge(dir, "materialised", job(qv, rs), 2);
  ASSERT_EQ(m.status, 0) << m.output;
  const RunResult l = merge(dir, "lora", job(base() + "+" + adapter("llama-fp32-qv"), base() + "+" + adapter("llama-fp32-rs")), 2);
  ASSERT_EQ(l.status, 0) << l.output;
  const json a = json::parse(read_file(dir.path / "materialised/merge_report.json"))["fewshot"]["candidates"];
  const json b = json::parse(read_file(dir.path / "lora/merge_report.json"))["fewshot"]["candidates"];
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << i;
    EXPECT_EQ(a[i]["weight"].get<double>(), b[i]["weight"].get<double>()) << i;
  }
  // Different models: the adapters changed the losses.
  EXPECT_NE(b[0]["loss"].get<double>(), b[1]["loss"].get<double>());
  EXPECT_TRUE(tensor_bytes(dir.path / "lora/model.safetensors") == tensor_bytes(dir.path / "materialised/model.safetensors"));
}

TEST(LoraMpi, AdapterThatDoesNotFitStopsEveryRankWithOneLine) {
  const TempDir dir("lora");
  // An adapter of llama applied to gemma2, and a missing adapter.
  const std::string other = (kFixtures / "models/gemma2-fp32").string();
  write_file(dir.path / "job.yaml", "merge_method: linear\nmodels:\n  - model: " + other + "+" + adapter("llama-fp32-qv") +
                                        "\n    parameters: {weight: 1}\n  - model: " + other +
                                        "\n    parameters: {weight: 1}\noutput: " + (dir.path / "out").string() + "\n");
  RunResult r = run_mpi(2, {(dir.path / "job.yaml").string()}, /*every_rank_finishes=*/true);
  ASSERT_EQ(r.rank_status.size(), 2u) << r.output;
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_GE(r.lines_containing("llama-fp32-qv/adapter_model.safetensors: "), 1) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "out"));

  write_file(dir.path / "job.yaml", "merge_method: linear\nmodels:\n  - model: " + base() + "+" + adapter("no-such") +
                                        "\n    parameters: {weight: 1}\noutput: " + (dir.path / "out").string() + "\n");
  r = run_mpi(2, {(dir.path / "job.yaml").string()}, true);
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_GE(r.lines_containing("key 'models[0].model': no such file or folder: " + adapter("no-such")), 1) << r.output;
}

TEST(LoraMpi, InspectShowsTheAdaptedTensors) {
  const RunResult r = run_mpi(1, {"inspect", base() + "+" + adapter("llama-fp32-qv")});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing(base() + "+" + adapter("llama-fp32-qv") + ": 21 tensors in 2 file(s)"), 1) << r.output;
  EXPECT_EQ(r.lines_containing("model.safetensors + LoRA r=4"), 4) << r.output;  // q and v of 2 layers
}
