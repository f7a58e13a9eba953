// The encoder-decoder (T5) forward pass against transformers: every model and
// setting of tests/fixtures/expected/encoder_decoder_losses.json (losses of
// T5ForConditionalGeneration in float32), the preprocessing that makes those
// batches, layer streaming, the relative position buckets and config errors.
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
#include "fewshot/examples.hpp"
#include "fewshot/seq2seq_evaluator.hpp"
#include "model/t5_forward.hpp"
#include "model/t5_layer.hpp"
#include "model/t5_weights.hpp"
#include "tensor_rows.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace cocktail;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;
const fs::path kExpected = kFixtures / "expected" / "encoder_decoder_losses.json";

// transformers' losses are float32 sums; ours differ only by summation order.
constexpr double kRelTol = 1e-5;

Seq2SeqBatch batch_of(const json& b) {
  return {int_matrix(b["input_ids"]), int_matrix(b["attention_mask"]), int_matrix(b["labels"])};
}

fs::path model_dir(const std::string& name) { return kFixtures / "models" / name; }

std::vector<fs::path> example_files(const json& setting) {
  std::vector<fs::path> files;
  for (const json& f : setting["examples"]) files.push_back(kFixtures / "examples" / f.get<std::string>());
  return files;
}

// Every tensor once, except that an embedding lookup reads only the rows of
// the batches' distinct tokens: shared.weight is read whole only when it is
// also the output matrix.
uint64_t expected_bytes_read(const Checkpoint& ckpt, const std::vector<Seq2SeqBatch>& batches,
                             const T5Config& cfg) {
  const T5VocabNames names(ckpt);
  std::set<int64_t> ids;
  for (const Seq2SeqBatch& b : batches) {
    const torch::Tensor in = b.input_ids.reshape({-1}).contiguous();
    ids.insert(in.data_ptr<int64_t>(), in.data_ptr<int64_t>() + in.numel());
    // The decoder reads the start token and every label but the last (-100 as padding).
    ids.insert(cfg.decoder_start_token_id);
    for (const std::vector<int64_t>& row : rows_of(b.labels))
      for (size_t j = 0; j + 1 < row.size(); ++j) ids.insert(row[j] == -100 ? cfg.pad_token_id : row[j]);
  }
  const CheckpointTensor* shared = ckpt.find("shared.weight");
  uint64_t bytes = ckpt.total_tensor_bytes() + ids.size() * (shared->info.nbytes() / shared->info.shape[0]);
  if (names.output != "shared.weight") bytes -= shared->info.nbytes();
  return bytes;
}

double candidate_loss(const std::vector<BatchLoss>& losses) {
  double sum = 0;
  for (const BatchLoss& l : losses) sum += l.loss_sum / static_cast<double>(l.tokens);
  return sum / static_cast<double>(losses.size());
}

// ---- losses against transformers, per model -------------------------------

class FixtureT5 : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureT5, LossesMatchTransformersAndWeightsStreamOnce) {
  const std::string name = GetParam();
  const json expected = read_json(kExpected);
  ASSERT_TRUE(expected["models"].contains(name)) << name << " is not in " << kExpected;
  const json& entry = expected["models"][name];
  const T5Config cfg = read_t5_config(model_dir(name) / "config.json");
  EXPECT_EQ(cfg.scale_decoder_outputs, entry["scale_decoder_outputs"].get<bool>());
  const Checkpoint ckpt = Checkpoint::open(model_dir(name));
  ASSERT_FALSE(entry["settings"].empty());
  double worst_rel = 0;
  for (const auto& [setting, result] : entry["settings"].items()) {
    SCOPED_TRACE(name + " / " + setting);
    std::vector<Seq2SeqBatch> batches;
    for (const json& b : result["batches"]) batches.push_back(batch_of(b));
    ForwardStats stats;
    const std::vector<BatchLoss> losses = t5_batch_losses(ckpt, cfg, batches, torch::kCPU, &stats);
    ASSERT_EQ(losses.size(), batches.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      const json& want = result["batches"][i];
      const double sum = want["token_loss_sum"].get<double>();
      EXPECT_EQ(losses[i].tokens, want["token_count"].get<int64_t>()) << "batch " << i;
      EXPECT_NEAR(losses[i].loss_sum, sum, kRelTol * std::abs(sum)) << "batch " << i;
      worst_rel = std::max(worst_rel, std::abs(losses[i].loss_sum - sum) / std::abs(sum));
    }
    const double want = result["candidate_loss"].get<double>();
    EXPECT_NEAR(candidate_loss(losses), want, kRelTol * want);
    EXPECT_EQ(stats.bytes_read, expected_bytes_read(ckpt, batches, cfg));
    EXPECT_GT(stats.largest_layer_bytes, 0);
    EXPECT_LE(stats.peak_layer_bytes, 2 * stats.largest_layer_bytes);
  }
  std::cout << name << ": largest relative difference of a batch's loss from transformers' " << worst_rel << "\n";
}

// Each feature the fixture's diagnostics turned off moves the loss by far more
// than the tolerance, and turned off here it gives transformers' loss of that
// variant: the code computes what the flag says, not just the default.
TEST_P(FixtureT5, DecoderOutputScalingIsTheFlagsAsTransformersApplyIt) {
  const std::string name = GetParam();
  const json expected = read_json(kExpected);
  const json& entry = expected["models"][name];
  const json& diagnostics = entry["diagnostics"];
  if (!diagnostics.contains("candidate_loss_if_decoder_output_scaling_flipped"))
    GTEST_SKIP() << name << " has no scaling variant (mT5 never scales; the peer has no diagnostics)";
  T5Config cfg = read_t5_config(model_dir(name) / "config.json");
  cfg.scale_decoder_outputs = !cfg.scale_decoder_outputs;
  std::vector<Seq2SeqBatch> batches;
  for (const json& b : entry["settings"]["default"]["batches"]) batches.push_back(batch_of(b));
  const double want = diagnostics["candidate_loss_if_decoder_output_scaling_flipped"].get<double>();
  EXPECT_NEAR(candidate_loss(t5_batch_losses(Checkpoint::open(model_dir(name)), cfg, batches, torch::kCPU)), want,
              kRelTol * want);
  EXPECT_GT(std::abs(want - entry["settings"]["default"]["candidate_loss"].get<double>()), 1e-2);
}

// The batches the fixture fed transformers are what our preprocessing makes
// from the example files with the model's own tokenizer.
TEST_P(FixtureT5, PreprocessingGivesTransformersBatches) {
  const std::string name = GetParam();
  const json expected = read_json(kExpected);
  const Tokenizer tok = Tokenizer::from_file(model_dir(name) / "tokenizer.json");
  const int64_t pad = expected["models"][name]["pad_token_id"].get<int64_t>();
  for (const auto& [setting, result] : expected["models"][name]["settings"].items()) {
    SCOPED_TRACE(name + " / " + setting);
    const json& s = expected["settings"][setting];
    const Examples ex = load_examples(example_files(s), 0);
    const auto batches = seq2seq_batches(tok, ex.decoder, s["max_input_length"].get<size_t>(),
                                         s["batch_size"].get<size_t>());
    ASSERT_EQ(batches.size(), result["batches"].size());
    for (size_t i = 0; i < batches.size(); ++i) {
      const Seq2SeqBatch b = to_seq2seq_batch(batches[i], pad);
      const json& want = result["batches"][i];
      EXPECT_EQ(rows_of(b.input_ids), want["input_ids"]) << "batch " << i;
      EXPECT_EQ(rows_of(b.attention_mask), want["attention_mask"]) << "batch " << i;
      EXPECT_EQ(rows_of(b.labels), want["labels"]) << "batch " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EncoderDecoders, FixtureT5,
                         ::testing::Values("t5-fp32", "t5-bf16", "t5-peer1-fp32", "flan-t5-fp32", "flan-t5-bf16",
                                           "mt5-fp32"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// ---- relative position buckets --------------------------------------------

// Values of transformers' T5Attention._relative_position_bucket(rel, bidirectional, 32, 128).
TEST(T5Buckets, EqualTransformersAtEveryScale) {
  const std::vector<int64_t> rel = {-300, -129, -128, -127, -64, -17, -16, -9, -8, -7, -1, 0,
                                    1,    7,    8,    9,    16,  17,  64,  127, 128, 129, 300};
  const std::vector<int64_t> bidirectional = {15, 15, 15, 15, 14, 10, 10, 8,  8,  7,  1, 0,
                                              17, 23, 24, 24, 26, 26, 30, 31, 31, 31, 31};
  const std::vector<int64_t> causal = {31, 31, 31, 31, 26, 16, 16, 9, 8, 7, 1, 0,
                                       0,  0,  0,  0,  0,  0,  0,  0, 0, 0, 0};
  for (bool bi : {true, false}) {
    // Query 300 sees keys at -300..0, query 0 keys at 0..300.
    const torch::Tensor b = t5_relative_buckets(301, 301, bi, 32, 128, torch::kCPU);
    for (size_t i = 0; i < rel.size(); ++i) {
      const int64_t r = rel[i];
      const int64_t got = r <= 0 ? b[300][300 + r].item<int64_t>() : b[0][r].item<int64_t>();
      EXPECT_EQ(got, (bi ? bidirectional : causal)[i]) << "relative position " << r << (bi ? " (encoder)" : " (decoder)");
    }
  }
}

// ---- config.json ------------------------------------------------------------

std::string config_error(json config) {
  char tmpl[] = "/tmp/cocktail-t5-XXXXXX";
  const fs::path dir(mkdtemp(tmpl));
  std::ofstream(dir / "config.json") << config.dump();
  std::string message = "no error";
  try {
    read_t5_config(dir / "config.json");
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove_all(dir);
  return message;
}

json t5_config() { return read_json(model_dir("t5-fp32") / "config.json"); }

// As hub configs of transformers 4.x: feed_forward_proj alone (transformers 5
// also saves what it derives, dense_act_fn and is_gated_act, which then win).
json t5_config_v4() {
  json c = t5_config();
  c.erase("dense_act_fn");
  c.erase("is_gated_act");
  return c;
}

TEST(T5Config, ReadsFlanAndMt5AsTransformersDoes) {
  const T5Config t5 = read_t5_config(model_dir("t5-fp32") / "config.json");
  EXPECT_FALSE(t5.gated);
  EXPECT_EQ(t5.activation, "relu");
  EXPECT_TRUE(t5.scale_decoder_outputs);
  EXPECT_EQ(t5.decoder_layers, 3);
  const T5Config flan = read_t5_config(model_dir("flan-t5-fp32") / "config.json");
  EXPECT_TRUE(flan.gated);
  EXPECT_EQ(flan.activation, "gelu_new");
  EXPECT_FALSE(flan.scale_decoder_outputs);
  EXPECT_FALSE(read_t5_config(model_dir("mt5-fp32") / "config.json").scale_decoder_outputs);
  // What transformers 5 saves wins over what older keys imply.
  json c = t5_config_v4();
  c["feed_forward_proj"] = "gated-gelu";
  EXPECT_EQ(config_error(c), "no error");
  c["dense_act_fn"] = "silu";
  c["is_gated_act"] = false;
  c["scale_decoder_outputs"] = false;
  char tmpl[] = "/tmp/cocktail-t5-XXXXXX";
  const fs::path dir(mkdtemp(tmpl));
  std::ofstream(dir / "config.json") << c.dump();
  const T5Config saved = read_t5_config(dir / "config.json");
  fs::remove_all(dir);
  EXPECT_EQ(saved.activation, "silu");
  EXPECT_FALSE(saved.gated);
  EXPECT_FALSE(saved.scale_decoder_outputs);
}

TEST(T5Config, RefusesWhatItCannotCompute) {
  json c = t5_config_v4();
  c["feed_forward_proj"] = "gated-swiglu";
  EXPECT_NE(config_error(c).find("activation \"swiglu\" is not supported"), std::string::npos) << config_error(c);
  c = t5_config_v4();
  c["feed_forward_proj"] = "double-gelu";
  EXPECT_NE(config_error(c).find("feed_forward_proj \"double-gelu\""), std::string::npos) << config_error(c);
  c = t5_config();
  c.erase("d_model");
  EXPECT_NE(config_error(c).find("missing \"d_model\""), std::string::npos) << config_error(c);
  c = t5_config();
  c["relative_attention_max_distance"] = 4;
  EXPECT_NE(config_error(c).find("relative_attention_max_distance 4"), std::string::npos) << config_error(c);
  c = t5_config();
  c["model_type"] = "bart";
  EXPECT_NE(config_error(c).find("model_type 'bart' is not a supported encoder-decoder"), std::string::npos);
}

TEST(T5Forward, NamesTheMissingTensorBeforeReading) {
  char tmpl[] = "/tmp/cocktail-t5-XXXXXX";
  const fs::path dir(mkdtemp(tmpl));
  fs::copy(model_dir("t5-fp32"), dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  json c = t5_config_v4();
  c["feed_forward_proj"] = "gated-gelu";  // the checkpoint has wi, not wi_0 / wi_1
  std::ofstream(dir / "config.json") << c.dump();
  std::string message = "no error";
  try {
    t5_batch_losses(Checkpoint::open(dir), read_t5_config(dir / "config.json"), {}, torch::kCPU);
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove_all(dir);
  EXPECT_NE(message.find("encoder.block.0.layer.1.DenseReluDense.wi_0.weight"), std::string::npos) << message;
}

}  // namespace
