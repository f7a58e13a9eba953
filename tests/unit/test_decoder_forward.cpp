// The decoder forward pass against transformers: every decoder model and
// setting of tests/fixtures/expected/decoder_losses.json (losses computed by
// transformers in float32), layer streaming (each tensor read once, at most
// two layers of weights alive), config reading and the errors a user can meet.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "fixture_json.hpp"
#include "model/decoder_forward.hpp"
#include "model/decoder_rope.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace cocktail;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;
const fs::path kExpected = kFixtures / "expected" / "decoder_losses.json";

// transformers' losses are float32 sums; ours differ only by summation order.
constexpr double kRelTol = 1e-4;

DecoderBatch batch_of(const json& b) {
  return {int_matrix(b["input_ids"]), int_matrix(b["attention_mask"]), int_matrix(b["labels"])};
}

fs::path model_dir(const std::string& name) { return kFixtures / "models" / name; }

// float32 bytes of decoder layer 0, from the checkpoint header alone.
int64_t layer0_float_bytes(const Checkpoint& ckpt) {
  int64_t bytes = 0;
  for (const CheckpointTensor& t : ckpt.tensors())
    if (t.info.name.rfind("model.layers.0.", 0) == 0) bytes += static_cast<int64_t>(t.info.numel()) * 4;
  return bytes;
}

// A tied model reads its embedding whole for the output projection, and the
// rows of the batches' distinct tokens for the lookup.
uint64_t expected_bytes_read(const Checkpoint& ckpt, const DecoderConfig& cfg,
                             const std::vector<DecoderBatch>& batches) {
  uint64_t bytes = ckpt.total_tensor_bytes();
  if (!cfg.tie_word_embeddings) return bytes;
  std::set<int64_t> ids;
  for (const DecoderBatch& b : batches) {
    const torch::Tensor flat = b.input_ids.reshape({-1}).contiguous();
    ids.insert(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
  }
  const CheckpointTensor* embed = ckpt.find("model.embed_tokens.weight");
  return bytes + ids.size() * (embed->info.nbytes() / embed->info.shape[0]);
}

fs::path temp_dir() {
  char tmpl[] = "/tmp/cocktail-decoder-XXXXXX";
  return fs::path(mkdtemp(tmpl));
}

fs::path write_config(const fs::path& dir, const json& config) {
  std::ofstream(dir / "config.json") << config.dump();
  return dir / "config.json";
}

std::string config_error(const json& config) {
  const fs::path dir = temp_dir();
  std::string message = "no error";
  try {
    read_decoder_config(write_config(dir, config));
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove_all(dir);
  return message;
}

json llama_config() { return read_json(model_dir("llama-fp32") / "config.json"); }

// ---- losses against transformers, per model -------------------------------

class FixtureModel : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureModel, LossesMatchTransformersAndWeightsStreamOnce) {
  const std::string name = GetParam();
  const json expected = read_json(kExpected);
  ASSERT_TRUE(expected["models"].contains(name)) << name << " is not in " << kExpected;
  const json& entry = expected["models"][name];
  ASSERT_EQ(entry["compute_dtype"], "float32");

  const DecoderConfig cfg = read_decoder_config(model_dir(name) / "config.json");
  const Checkpoint ckpt = Checkpoint::open(model_dir(name));
  const int64_t layer_bytes = layer0_float_bytes(ckpt);
  double worst_rel = 0;
  int64_t peak = 0;
  ASSERT_FALSE(entry["settings"].empty());
  for (const auto& [setting, result] : entry["settings"].items()) {
    SCOPED_TRACE(name + " / " + setting);
    std::vector<DecoderBatch> batches;
    for (const json& b : result["batches"]) batches.push_back(batch_of(b));
    ASSERT_FALSE(batches.empty());

    ForwardStats stats;
    const std::vector<BatchLoss> losses = decoder_batch_losses(ckpt, cfg, batches, torch::kCPU, &stats);
    ASSERT_EQ(losses.size(), batches.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      const json& want = result["batches"][i];
      const double sum = want["token_loss_sum"].get<double>();
      EXPECT_EQ(losses[i].tokens, want["token_count"].get<int64_t>()) << "batch " << i;
      EXPECT_NEAR(losses[i].loss_sum, sum, kRelTol * std::abs(sum)) << "batch " << i;
      worst_rel = std::max(worst_rel, std::abs(losses[i].loss_sum - sum) / std::abs(sum));
      EXPECT_NEAR(losses[i].loss_sum / static_cast<double>(losses[i].tokens), want["loss"].get<double>(),
                  kRelTol * std::abs(want["loss"].get<double>()))
          << "batch " << i;
    }
    // The same forward cut into pipeline stages (an embedding-only first
    // stage, then one stage per layer, the hidden states through host
    // memory as between ranks): the same bits, each byte read once.
    std::vector<torch::Tensor> hidden;
    uint64_t staged_read = 0;
    std::vector<BatchLoss> staged;
    CheckpointSource source(ckpt);
    for (int64_t l = -1; l < cfg.num_layers; ++l) {
      ForwardStats part;
      staged = decoder_stage(source, cfg, batches, torch::kCPU, {std::max<int64_t>(l, 0), l + 1, l < 0}, hidden, &part);
      for (torch::Tensor& h : hidden) h = h.clone();
      staged_read += part.bytes_read;
    }
    ASSERT_EQ(staged.size(), losses.size());
    EXPECT_TRUE(hidden.empty());
    for (size_t i = 0; i < losses.size(); ++i) {
      EXPECT_EQ(staged[i].loss_sum, losses[i].loss_sum) << "batch " << i << " in stages";
      EXPECT_EQ(staged[i].tokens, losses[i].tokens) << "batch " << i << " in stages";
    }
    EXPECT_EQ(staged_read, stats.bytes_read);

    // Layer streaming: every byte once (tied: plus the looked-up rows), and
    // never more than two layers of weights alive.
    EXPECT_EQ(stats.bytes_read, expected_bytes_read(ckpt, cfg, batches));
    EXPECT_EQ(stats.largest_layer_bytes, layer_bytes);
    EXPECT_GT(stats.peak_layer_bytes, 0);
    EXPECT_LE(stats.peak_layer_bytes, 2 * layer_bytes)
        << "peak " << stats.peak_layer_bytes << " bytes of weights, one layer is " << layer_bytes;
    peak = std::max(peak, stats.peak_layer_bytes);
  }
  // The margins, for the log: how close to transformers, how much weight held.
  std::cout << name << ": worst relative error " << worst_rel << ", weight peak " << peak
            << " bytes, one layer " << layer_bytes << " bytes\n";
}

INSTANTIATE_TEST_SUITE_P(Decoders, FixtureModel,
                         ::testing::Values("llama-fp32", "llama-bf16", "llama3-fp32", "llama3-bf16",
                                           "mistral-fp32", "mistral-bf16", "qwen2-fp32", "qwen2-bf16",
                                           "qwen3-fp32", "qwen3-bf16", "phi3-fp32", "phi3-bf16",
                                           "mixtral-fp32", "mixtral-bf16", "qwen3_moe-fp32",
                                           "qwen3_moe-bf16", "gemma2-fp32", "gemma2-bf16",
                                           "gemma3_text-fp32", "gemma3_text-bf16", "llama-peer1-fp32", "llama-peer2-fp32", "llama-peer3-fp32"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

TEST(FixtureModels, EveryDecoderFixtureIsTested) {
  const std::set<std::string> tested = {"llama-fp32",   "llama-bf16",       "llama3-fp32",
                                        "llama3-bf16",  "mistral-fp32",     "mistral-bf16",
                                        "qwen2-fp32",   "qwen2-bf16",       "qwen3-fp32",
                                        "qwen3-bf16",   "phi3-fp32",        "phi3-bf16",
                                        "mixtral-fp32", "mixtral-bf16",     "qwen3_moe-fp32",
                                        "qwen3_moe-bf16", "gemma2-fp32",    "gemma2-bf16",
                                        "gemma3_text-fp32", "gemma3_text-bf16", "llama-peer1-fp32",
                                        "llama-peer2-fp32", "llama-peer3-fp32"};
  // Named: a range-for over a part of a temporary reads freed memory (ASan).
  const json expected = read_json(kExpected);
  for (const auto& [name, entry] : expected["models"].items())
    EXPECT_TRUE(tested.count(name)) << name << " has expected losses but no test";
}

// ---- config.json ------------------------------------------------------------

TEST(DecoderConfig, BothConfigLayoutsReadAlike) {
  // fp32 fixtures are written by transformers 5 (rope_parameters), bf16 ones
  // in the 4.x layout (rope_theta + rope_scaling, no layer_types).
  for (const std::string family :
       {"llama", "llama3", "mistral", "qwen2", "qwen3", "phi3", "mixtral", "qwen3_moe", "gemma2",
        "gemma3_text"}) {
    SCOPED_TRACE(family);
    const DecoderConfig a = read_decoder_config(model_dir(family + "-fp32") / "config.json");
    const DecoderConfig b = read_decoder_config(model_dir(family + "-bf16") / "config.json");
    EXPECT_EQ(a.model_type, b.model_type);
    EXPECT_EQ(a.hidden_size, b.hidden_size);
    EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
    EXPECT_EQ(a.head_dim, b.head_dim);
    EXPECT_EQ(a.vocab_size, b.vocab_size);
    EXPECT_EQ(a.rope.type, b.rope.type);
    EXPECT_EQ(a.rope.theta, b.rope.theta);
    EXPECT_EQ(a.rope.factor, b.rope.factor);
    EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
    EXPECT_EQ(a.qkv_bias, b.qkv_bias);
    EXPECT_EQ(a.qk_norm, b.qk_norm);
    EXPECT_EQ(a.fused, b.fused);
    EXPECT_EQ(a.gemma, b.gemma);
    EXPECT_EQ(a.attn_softcap, b.attn_softcap);
    EXPECT_EQ(a.sliding_rope.has_value(), b.sliding_rope.has_value());
    if (a.sliding_rope && b.sliding_rope) EXPECT_EQ(a.sliding_rope->theta, b.sliding_rope->theta);
    EXPECT_EQ(a.moe.has_value(), b.moe.has_value());
    if (a.moe && b.moe) {
      EXPECT_EQ(a.moe->experts, b.moe->experts);
      EXPECT_EQ(a.moe->layer_moe, b.moe->layer_moe);
    }
    EXPECT_EQ(a.rope.partial_rotary_factor, b.rope.partial_rotary_factor);
    EXPECT_EQ(a.sliding_window, b.sliding_window);
    EXPECT_EQ(a.layer_sliding, b.layer_sliding);
  }
}

TEST(DecoderConfig, FamilyFeatures) {
  const DecoderConfig llama3 = read_decoder_config(model_dir("llama3-bf16") / "config.json");
  EXPECT_EQ(llama3.rope.type, RopeType::Llama3);
  EXPECT_EQ(llama3.rope.factor, 8.0);
  EXPECT_EQ(llama3.rope.original_max_position_embeddings, 64);
  EXPECT_TRUE(llama3.tie_word_embeddings);

  const DecoderConfig mistral = read_decoder_config(model_dir("mistral-fp32") / "config.json");
  EXPECT_EQ(mistral.sliding_window, std::optional<int64_t>(8));
  EXPECT_EQ(mistral.layer_sliding, std::vector<bool>(2, true));

  // A qwen2 config carries a sliding_window with use_sliding_window false:
  // transformers ignores it, and so must we.
  const DecoderConfig qwen2 = read_decoder_config(model_dir("qwen2-bf16") / "config.json");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.sliding_window.has_value());
  EXPECT_EQ(qwen2.layer_sliding, std::vector<bool>(2, false));

  // qwen3: per-head q/k norms, no q/k/v bias, head_dim apart from hidden / heads.
  const DecoderConfig qwen3 = read_decoder_config(model_dir("qwen3-bf16") / "config.json");
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.qkv_bias);
  EXPECT_EQ(qwen3.head_dim, 24);
  EXPECT_EQ(qwen3.hidden_size / qwen3.num_heads, 16);
  EXPECT_FALSE(qwen2.qk_norm);

  // phi3: fused projections, partial RoPE (12 of 16 dimensions), a window on every layer.
  const DecoderConfig phi3 = read_decoder_config(model_dir("phi3-bf16") / "config.json");
  EXPECT_TRUE(phi3.fused);
  EXPECT_EQ(phi3.rope.partial_rotary_factor, 0.75);
  EXPECT_EQ(rotary_dims(phi3), 12);
  EXPECT_EQ(phi3.sliding_window, std::optional<int64_t>(8));
  EXPECT_EQ(phi3.layer_sliding, std::vector<bool>(2, true));

  // Mixtures of experts: mixtral's family default theta, qwen3_moe's dense layer 1.
  const DecoderConfig mixtral = read_decoder_config(model_dir("mixtral-bf16") / "config.json");
  ASSERT_TRUE(mixtral.moe.has_value());
  EXPECT_EQ(mixtral.moe->experts, 4);
  EXPECT_EQ(mixtral.moe->top_k, 2);
  EXPECT_TRUE(mixtral.moe->normalize_top_k);
  EXPECT_EQ(mixtral.rope.theta, 1e6);
  const DecoderConfig qwen3_moe = read_decoder_config(model_dir("qwen3_moe-bf16") / "config.json");
  ASSERT_TRUE(qwen3_moe.moe.has_value());
  EXPECT_EQ(qwen3_moe.moe->expert_intermediate_size, 48);
  EXPECT_EQ(qwen3_moe.moe->layer_moe, (std::vector<bool>{true, false}));
  EXPECT_TRUE(qwen3_moe.qk_norm);
  EXPECT_FALSE(qwen3.moe.has_value());

  // gemma2: alternating windows from layer 0, scaled scores, both soft caps.
  const DecoderConfig gemma2 = read_decoder_config(model_dir("gemma2-bf16") / "config.json");
  EXPECT_TRUE(gemma2.gemma);
  EXPECT_EQ(gemma2.layer_sliding, (std::vector<bool>{true, false}));
  EXPECT_EQ(gemma2.attention_scale, std::pow(20.0, -0.5));
  EXPECT_EQ(gemma2.embed_scale, 8.0);
  EXPECT_EQ(gemma2.attn_softcap, std::optional<double>(5.0));
  EXPECT_EQ(gemma2.final_softcap, std::optional<double>(3.0));
  EXPECT_FALSE(qwen3.final_softcap.has_value());

  // gemma3: no caps, q/k norms, the sliding layer's own RoPE.
  const DecoderConfig gemma3 = read_decoder_config(model_dir("gemma3_text-bf16") / "config.json");
  EXPECT_TRUE(gemma3.gemma && gemma3.qk_norm);
  EXPECT_FALSE(gemma3.attn_softcap || gemma3.final_softcap);
  EXPECT_EQ(gemma3.layer_sliding, (std::vector<bool>{true, false}));
  ASSERT_TRUE(gemma3.sliding_rope.has_value());
  EXPECT_EQ(gemma3.sliding_rope->theta, 1e4);
  EXPECT_EQ(gemma3.rope.theta, 1e6);
  EXPECT_EQ(gemma3.rope.type, RopeType::Linear);
}

TEST(DecoderConfig, SlidingWindowRules) {
  json mistral = read_json(model_dir("mistral-fp32") / "config.json");
  mistral["sliding_window"] = nullptr;  // Mistral v0.2 and later
  const fs::path dir = temp_dir();
  EXPECT_FALSE(read_decoder_config(write_config(dir, mistral)).sliding_window.has_value());
  mistral.erase("sliding_window");  // absent: the MistralConfig default
  EXPECT_EQ(read_decoder_config(write_config(dir, mistral)).sliding_window, std::optional<int64_t>(4096));

  json qwen2 = read_json(model_dir("qwen2-bf16") / "config.json");
  qwen2["use_sliding_window"] = true;  // layers from max_window_layers (1) on
  const DecoderConfig q = read_decoder_config(write_config(dir, qwen2));
  EXPECT_EQ(q.sliding_window, std::optional<int64_t>(8));
  EXPECT_EQ(q.layer_sliding, (std::vector<bool>{false, true}));
  fs::remove_all(dir);
}

TEST(DecoderConfig, UnsupportedModelTypeNamesTheSupportedOnes) {
  json config = llama_config();
  config["model_type"] = "gpt2";
  const std::string message = config_error(config);
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("'gpt2'"), std::string::npos) << message;
  EXPECT_NE(message.find("gemma2, gemma3_text, llama, mistral, mixtral, phi3, qwen2, qwen3, qwen3_moe"),
            std::string::npos)
      << message;
}

TEST(DecoderConfig, UnsupportedRopeAndActivationAreNamed) {
  json config = llama_config();
  config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  std::string message = config_error(config);
  EXPECT_NE(message.find("'yarn'"), std::string::npos) << message;
  EXPECT_NE(message.find("default, linear, dynamic, llama3"), std::string::npos) << message;

  config = llama_config();
  config["hidden_act"] = "gelu";
  message = config_error(config);
  EXPECT_NE(message.find("\"gelu\""), std::string::npos) << message;

  config = llama_config();
  config.erase("hidden_size");
  EXPECT_NE(config_error(config).find("missing \"hidden_size\""), std::string::npos);
}

// ---- tensors ----------------------------------------------------------------

TEST(TensorLoader, Bf16IsWidenedExactly) {
  // The bf16 fixture is the fp32 model rounded to bf16.
  const Checkpoint f32 = Checkpoint::open(model_dir("llama-fp32"));
  const Checkpoint b16 = Checkpoint::open(model_dir("llama-bf16"));
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  const torch::Tensor want = load_tensor(f32, name, torch::kCPU).to(torch::kBFloat16).to(torch::kFloat);
  const torch::Tensor got = load_tensor(b16, name, torch::kCPU);
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(got, want));
}

TEST(TensorLoader, RowsAreASliceOfTheWhole) {
  const Checkpoint ckpt = Checkpoint::open(model_dir("qwen2-bf16"));
  const std::string name = "model.embed_tokens.weight";
  const torch::Tensor whole = load_tensor(ckpt, name, torch::kCPU);
  EXPECT_TRUE(torch::equal(load_tensor_rows(ckpt, name, 3, 9, torch::kCPU), whole.narrow(0, 3, 6)));
}

TEST(TensorLoader, MissingTensorIsNamed) {
  const Checkpoint ckpt = Checkpoint::open(model_dir("llama-fp32"));
  try {
    load_tensor(ckpt, "model.layers.9.mlp.up_proj.weight", torch::kCPU);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(model_dir("llama-fp32").string()), std::string::npos) << message;
    EXPECT_NE(message.find("'model.layers.9.mlp.up_proj.weight' is missing"), std::string::npos) << message;
  }
}

std::string forward_error(const DecoderConfig& cfg, const std::vector<DecoderBatch>& batches) {
  const Checkpoint ckpt = Checkpoint::open(model_dir("llama-fp32"));
  try {
    decoder_batch_losses(ckpt, cfg, batches, torch::kCPU);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::vector<DecoderBatch> one_batch() {
  const torch::Tensor ids = torch::tensor({1, 5, 7, 9}, torch::kLong).view({1, 4});
  return {{ids, torch::ones({1, 4}, torch::kLong), ids.clone()}};
}

TEST(DecoderForward, CheckpointNotMatchingConfigIsNamedBeforeReading) {
  DecoderConfig cfg = read_decoder_config(model_dir("llama-fp32") / "config.json");
  cfg.num_layers = 3;
  cfg.layer_sliding.resize(3, false);
  EXPECT_NE(forward_error(cfg, one_batch()).find("'model.layers.2.input_layernorm.weight' is missing"),
            std::string::npos);

  cfg = read_decoder_config(model_dir("llama-fp32") / "config.json");
  cfg.intermediate_size = 100;
  const std::string message = forward_error(cfg, one_batch());
  EXPECT_NE(message.find("'model.layers.0.mlp.gate_proj.weight' has shape [128, 64]"), std::string::npos)
      << message;
}

TEST(DecoderForward, TokenOutsideTheVocabularyIsNamed) {
  const DecoderConfig cfg = read_decoder_config(model_dir("llama-fp32") / "config.json");
  std::vector<DecoderBatch> batches = one_batch();
  batches[0].input_ids[0][2] = cfg.vocab_size;
  EXPECT_NE(forward_error(cfg, batches).find("batch 0: a token id is outside the vocabulary"),
            std::string::npos);
}

}  // namespace
