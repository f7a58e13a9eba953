// A merged model computed in memory (model/mixture_source): its tensors are
// the weighted sums of the candidates', candidates of weight 0 are not read,
// the cache serves later evaluations without reading, and the forward over
// it gives the candidate's own loss when the recipe is that candidate.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "model/decoder_forward.hpp"
#include "model/mixture_source.hpp"
#include "model/tensor_loader.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

const fs::path kModels = fs::path(COCKTAIL_FIXTURES_DIR) / "models";

struct Candidates {
  std::vector<Checkpoint> models;
  std::vector<const Checkpoint*> pointers;
  Candidates() {
    for (const char* n : {"llama-fp32", "llama-peer1-fp32", "llama-bf16"}) models.push_back(Checkpoint::open(kModels / n));
    for (const Checkpoint& m : models) pointers.push_back(&m);
  }
};

DecoderBatch batch() {
  const torch::Tensor ids = torch::tensor({1, 15, 27, 300, 42, 7, 2}, torch::kLong).view({1, 7});
  return {ids, torch::ones_like(ids), ids.clone()};
}

TEST(MixtureSource, TensorsAreTheWeightedSumsOfTheCandidates) {
  Candidates c;
  MixtureSource mix(c.pointers, 0);
  const std::vector<double> w = {0.5, 0.3, 0.2};
  mix.set_weights(w);
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  uint64_t read = 0;
  const torch::Tensor got = mix.tensor(name, torch::kCPU, read);
  torch::Tensor want = torch::zeros_like(got, torch::kDouble);
  uint64_t stored = 0;
  for (size_t i = 0; i < 3; ++i) {
    want += w[i] * load_tensor(c.models[i], name, torch::kCPU).to(torch::kDouble);
    stored += require_tensor(c.models[i], name).info.nbytes();
  }
  EXPECT_EQ(read, stored);
  // float32 terms added in candidate order: within a few float32 steps of the exact sum.
  EXPECT_LE((got.to(torch::kDouble) - want).abs().max().item<double>(), 4 * 1.2e-7 * want.abs().max().item<double>());
}

TEST(MixtureSource, ARecipeOfOneCandidateIsThatCandidateAndReadsNoOther) {
  Candidates c;
  MixtureSource mix(c.pointers, 0);
  mix.set_weights({0.0, 1.0, 0.0});
  const DecoderConfig cfg = read_decoder_config(kModels / "llama-fp32" / "config.json");
  ForwardStats merged_stats, own_stats;
  const std::vector<BatchLoss> merged = decoder_batch_losses(mix, cfg, {batch()}, torch::kCPU, &merged_stats);
  const std::vector<BatchLoss> own = decoder_batch_losses(c.models[1], cfg, {batch()}, torch::kCPU, &own_stats);
  EXPECT_EQ(merged[0].loss_sum, own[0].loss_sum);  // bit for bit: 1.0 * x is x
  EXPECT_EQ(merged_stats.bytes_read, own_stats.bytes_read);
}

TEST(MixtureSource, TheCacheServesLaterEvaluationsWithoutReading) {
  Candidates c;
  const DecoderConfig cfg = read_decoder_config(kModels / "llama-fp32" / "config.json");
  // Host tier, then the device tier (the forward's device: the CPU here).
  for (const auto& [host, device] : {std::pair<uint64_t, uint64_t>{0, 0}, {64ull << 20, 0}, {0, 64ull << 20}}) {
    const uint64_t budget = host + device;
    MixtureSource mix(c.pointers, host, device);
    std::vector<double> losses;
    std::vector<uint64_t> reads;
    for (const std::vector<double>& w : {std::vector<double>{0.2, 0.3, 0.5}, std::vector<double>{0.6, 0.4, 0.0},
                                         std::vector<double>{0.2, 0.3, 0.5}}) {
      mix.set_weights(w);
      ForwardStats stats;
      losses.push_back(decoder_batch_losses(mix, cfg, {batch()}, torch::kCPU, &stats)[0].loss_sum);
      reads.push_back(stats.bytes_read);
    }
    EXPECT_EQ(losses[0], losses[2]) << "budget " << budget;  // the same recipe, the same bits
    EXPECT_NE(losses[0], losses[1]);
    if (budget == 0) {
      EXPECT_EQ(mix.cached_bytes(), 0u);
      EXPECT_GT(reads[2], 0u);
    } else {
      EXPECT_GT(mix.cached_bytes(), 0u);
      EXPECT_EQ(mix.device_cached_bytes(), device == 0 ? 0u : mix.cached_bytes());
      EXPECT_EQ(reads[1] + reads[2], 0u) << "everything was cached by the first evaluation";
    }
  }
}

}  // namespace
