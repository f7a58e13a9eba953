// The encoder forward pass against transformers: every encoder model and
// setting of tests/fixtures/expected/encoder_losses.json (the authors' embedder
// loss computed with BertModel / XLMRobertaModel in float32), layer streaming
// (each tensor read once, at most two layers of weights alive), config reading
// and the errors a user can meet.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "fixture_json.hpp"
#include "model/encoder_forward.hpp"
#include "model/encoder_layer.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace cocktail;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;
const fs::path kExpected = kFixtures / "expected" / "encoder_losses.json";
const std::vector<std::string> kModels = {"bert-fp32", "bert-bf16", "xlm-roberta-fp32", "xlm-roberta-bf16"};

// transformers' losses are float32; ours differ only by summation order.
constexpr double kRelTol = 1e-4;

EncoderBatch batch_of(const json& b) {
  // The fixture's tokenizer returns no token_type_ids, so the model uses type 0.
  EXPECT_FALSE(b["queries"].contains("token_type_ids"));
  return {int_matrix(b["queries"]["input_ids"]), int_matrix(b["queries"]["attention_mask"]),
          int_matrix(b["passages"]["input_ids"]), int_matrix(b["passages"]["attention_mask"])};
}

fs::path model_dir(const std::string& name) { return kFixtures / "models" / name; }

// float32 bytes of encoder layer 0, from the checkpoint header alone.
int64_t layer0_float_bytes(const Checkpoint& ckpt) {
  int64_t bytes = 0;
  for (const CheckpointTensor& t : ckpt.tensors())
    if (t.info.name.find("encoder.layer.0.") != std::string::npos)
      bytes += static_cast<int64_t>(t.info.numel()) * 4;
  return bytes;
}

// Every tensor once, except the pooler: CLS pooling takes the last hidden
// state, not the pooler's tanh(dense(CLS)), so its weights are never read.
uint64_t expected_bytes_read(const Checkpoint& ckpt) {
  uint64_t bytes = 0;
  for (const CheckpointTensor& t : ckpt.tensors())
    if (t.info.name.find("pooler.") == std::string::npos) bytes += t.info.nbytes();
  return bytes;
}

fs::path temp_dir() {
  char tmpl[] = "/tmp/cocktail-encoder-XXXXXX";
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
    read_encoder_config(write_config(dir, config));
  } catch (const Error& e) {
    message = e.what();
  }
  fs::remove_all(dir);
  return message;
}

json bert_config() { return read_json(model_dir("bert-fp32") / "config.json"); }

std::vector<EncoderBatch> fixture_batches(const std::string& model, const std::string& setting) {
  const json expected = read_json(kExpected);  // alive while its batches are read
  std::vector<EncoderBatch> out;
  for (const json& b : expected["models"][model]["settings"][setting]["batches"]) out.push_back(batch_of(b));
  if (out.empty()) throw std::runtime_error(model + " / " + setting + ": no batches in " + kExpected.string());
  return out;
}

// ---- losses against transformers, per model -------------------------------

class FixtureModel : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureModel, LossesMatchTransformersAndWeightsStreamOnce) {
  const std::string name = GetParam();
  const json expected = read_json(kExpected);
  ASSERT_TRUE(expected["models"].contains(name)) << name << " is not in " << kExpected;
  const json& entry = expected["models"][name];
  ASSERT_EQ(entry["compute_dtype"], "float32");

  const EncoderConfig cfg = read_encoder_config(model_dir(name) / "config.json");
  const Checkpoint ckpt = Checkpoint::open(model_dir(name));
  const int64_t layer_bytes = layer0_float_bytes(ckpt);
  double worst_rel = 0;
  int64_t peak = 0;
  ASSERT_FALSE(entry["settings"].empty());
  for (const auto& [setting, result] : entry["settings"].items()) {
    SCOPED_TRACE(name + " / " + setting);
    const int64_t neg_number = expected["settings"][setting]["neg_number"].get<int64_t>();
    std::vector<EncoderBatch> batches;
    for (const json& b : result["batches"]) batches.push_back(batch_of(b));
    ASSERT_FALSE(batches.empty());

    ForwardStats stats;
    const std::vector<EncoderBatchLoss> losses =
        encoder_batch_losses(ckpt, cfg, batches, neg_number, torch::kCPU, &stats);
    ASSERT_EQ(losses.size(), batches.size());
    double mean = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      const json& want = result["batches"][i];
      const double loss = want["loss"].get<double>();
      EXPECT_EQ(losses[i].queries, static_cast<int64_t>(want["targets"].size())) << "batch " << i;
      const double got = losses[i].loss_sum / static_cast<double>(losses[i].queries);
      EXPECT_NEAR(got, loss, kRelTol * std::abs(loss)) << "batch " << i;
      worst_rel = std::max(worst_rel, std::abs(got - loss) / std::abs(loss));
      mean += got / static_cast<double>(batches.size());
    }
    // The authors' candidate loss: the mean of the batch means.
    const double candidate = result["candidate_loss"].get<double>();
    EXPECT_NEAR(mean, candidate, kRelTol * std::abs(candidate));

    // Layer streaming: every byte but the pooler's once, and never more than
    // two layers of weights alive.
    EXPECT_EQ(stats.bytes_read, expected_bytes_read(ckpt));
    EXPECT_EQ(stats.largest_layer_bytes, layer_bytes);
    EXPECT_GT(stats.peak_layer_bytes, 0);
    EXPECT_LE(stats.peak_layer_bytes, 2 * layer_bytes)
        << "peak " << stats.peak_layer_bytes << " bytes of weights, one layer is " << layer_bytes;
    peak = std::max(peak, stats.peak_layer_bytes);
  }
  std::cout << name << ": worst relative error " << worst_rel << ", weight peak " << peak
            << " bytes, one layer " << layer_bytes << " bytes\n";
}

INSTANTIATE_TEST_SUITE_P(Encoders, FixtureModel, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

TEST(FixtureModels, EveryEncoderFixtureIsTested) {
  const std::set<std::string> tested(kModels.begin(), kModels.end());
  // Named: a range-for over a part of a temporary reads freed memory (ASan).
  const json expected = read_json(kExpected);
  for (const auto& [name, entry] : expected["models"].items())
    EXPECT_TRUE(tested.count(name)) << name << " has expected losses but no test";
}

// A checkpoint saved from BertForMaskedLM-style classes nests the encoder
// under "bert." (or "roberta."): the same weights under those names give the
// same losses. The copy renames the tensors in the safetensors header only.
fs::path prefixed_copy(const std::string& model, const std::string& prefix) {
  const fs::path dir = temp_dir();
  std::ifstream in(model_dir(model) / "model.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, header_len));
  json renamed = json::object();
  for (const auto& [key, value] : header.items())
    renamed[key == "__metadata__" ? key : prefix + key] = value;
  std::string text = renamed.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  const uint64_t new_len = text.size();
  std::ofstream out(dir / "model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(&new_len), 8);
  out << text << bytes.substr(8 + header_len);
  out.close();
  fs::copy_file(model_dir(model) / "config.json", dir / "config.json");
  return dir;
}

TEST(EncoderForward, PrefixedTensorNamesGiveTheSameLosses) {
  for (const auto& [model, prefix] : {std::pair<std::string, std::string>{"bert-fp32", "bert."},
                                      {"xlm-roberta-bf16", "roberta."}}) {
    SCOPED_TRACE(model);
    const EncoderConfig cfg = read_encoder_config(model_dir(model) / "config.json");
    const std::vector<EncoderBatch> batches = fixture_batches(model, "default");
    const std::vector<EncoderBatchLoss> bare =
        encoder_batch_losses(Checkpoint::open(model_dir(model)), cfg, batches, 3, torch::kCPU);
    const fs::path dir = prefixed_copy(model, prefix);
    const std::vector<EncoderBatchLoss> nested =
        encoder_batch_losses(Checkpoint::open(dir), cfg, batches, 3, torch::kCPU);
    fs::remove_all(dir);
    ASSERT_EQ(bare.size(), nested.size());
    for (size_t i = 0; i < bare.size(); ++i) EXPECT_EQ(bare[i].loss_sum, nested[i].loss_sum);
  }
}

// ---- config.json and positions ---------------------------------------------

TEST(EncoderConfig, BothConfigLayoutsReadAlike) {
  for (const std::string family : {"bert", "xlm-roberta"}) {
    SCOPED_TRACE(family);
    const EncoderConfig a = read_encoder_config(model_dir(family + "-fp32") / "config.json");
    const EncoderConfig b = read_encoder_config(model_dir(family + "-bf16") / "config.json");
    EXPECT_EQ(a.model_type, family);
    EXPECT_EQ(a.model_type, b.model_type);
    EXPECT_EQ(a.hidden_size, b.hidden_size);
    EXPECT_EQ(a.head_dim, 16);
    EXPECT_EQ(a.vocab_size, b.vocab_size);
    EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
    EXPECT_EQ(a.type_vocab_size, b.type_vocab_size);
    EXPECT_EQ(a.pad_token_id, b.pad_token_id);
    EXPECT_EQ(a.layer_norm_eps, 1e-12);
    EXPECT_EQ(a.hidden_act, "gelu");
  }
  EXPECT_EQ(read_encoder_config(model_dir("xlm-roberta-fp32") / "config.json").max_position_embeddings, 130);
}

TEST(EncoderConfig, FamilyDefaults) {
  json config = read_json(model_dir("xlm-roberta-fp32") / "config.json");
  for (const char* key : {"pad_token_id", "type_vocab_size", "max_position_embeddings", "layer_norm_eps",
                          "hidden_act"})
    config.erase(key);
  const fs::path dir = temp_dir();
  EncoderConfig cfg = read_encoder_config(write_config(dir, config));
  EXPECT_EQ(cfg.pad_token_id, 1);  // XLMRobertaConfig's <pad>
  EXPECT_EQ(cfg.type_vocab_size, 2);
  EXPECT_EQ(cfg.max_position_embeddings, 512);
  EXPECT_EQ(cfg.layer_norm_eps, 1e-12);
  config["model_type"] = "bert";
  EXPECT_EQ(read_encoder_config(write_config(dir, config)).pad_token_id, 0);
  fs::remove_all(dir);
}

TEST(EncoderConfig, UnsupportedModelTypeNamesTheSupportedOnes) {
  json config = bert_config();
  config["model_type"] = "llama";
  const std::string message = config_error(config);
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("'llama'"), std::string::npos) << message;
  EXPECT_NE(message.find("bert, xlm-roberta"), std::string::npos) << message;
}

TEST(EncoderConfig, UnsupportedFeaturesAreNamed) {
  json config = bert_config();
  config["hidden_act"] = "gelu_new";
  EXPECT_NE(config_error(config).find("hidden_act \"gelu_new\" is not supported"), std::string::npos);
  config = bert_config();
  config["position_embedding_type"] = "relative_key";
  EXPECT_NE(config_error(config).find("\"relative_key\""), std::string::npos);
  config = bert_config();
  config.erase("hidden_size");
  EXPECT_NE(config_error(config).find("missing \"hidden_size\""), std::string::npos);
  config = bert_config();
  config["num_attention_heads"] = 5;
  EXPECT_NE(config_error(config).find("not a multiple of num_attention_heads 5"), std::string::npos);
}

TEST(EncoderPositions, BertCountsFromZeroXlmRobertaSkipsPadding) {
  EncoderConfig cfg = read_encoder_config(model_dir("bert-fp32") / "config.json");
  const torch::Tensor ids = torch::tensor({2, 7, 3, 0, 0, 2, 7, 8, 9, 3}, torch::kLong).view({2, 5});
  EXPECT_TRUE(torch::equal(encoder_position_ids(ids, cfg),
                           torch::tensor({0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, torch::kLong).view({2, 5})));
  cfg.model_type = "xlm-roberta";
  cfg.pad_token_id = 0;
  EXPECT_TRUE(torch::equal(encoder_position_ids(ids, cfg),
                           torch::tensor({1, 2, 3, 0, 0, 1, 2, 3, 4, 5}, torch::kLong).view({2, 5})));
  cfg.pad_token_id = 1;  // real XLM-R: <pad> = 1, positions from 2
  const torch::Tensor xlmr = torch::tensor({0, 7, 2, 1, 1}, torch::kLong).view({1, 5});
  EXPECT_TRUE(torch::equal(encoder_position_ids(xlmr, cfg),
                           torch::tensor({2, 3, 4, 1, 1}, torch::kLong).view({1, 5})));
}

// ---- errors -------------------------------------------------------------------

std::string forward_error(const EncoderConfig& cfg, const std::vector<EncoderBatch>& batches,
                          int64_t neg_number = 3, const std::string& model = "bert-fp32") {
  const Checkpoint ckpt = Checkpoint::open(model_dir(model));
  try {
    encoder_batch_losses(ckpt, cfg, batches, neg_number, torch::kCPU);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(EncoderForward, CheckpointNotMatchingConfigIsNamedBeforeReading) {
  EncoderConfig cfg = read_encoder_config(model_dir("bert-fp32") / "config.json");
  const std::vector<EncoderBatch> batches = fixture_batches("bert-fp32", "default");
  cfg.num_layers = 3;
  std::string message = forward_error(cfg, batches);
  EXPECT_NE(message.find(model_dir("bert-fp32").string()), std::string::npos) << message;
  EXPECT_NE(message.find("'encoder.layer.2.attention.self.query.weight' is missing"), std::string::npos)
      << message;

  cfg = read_encoder_config(model_dir("bert-fp32") / "config.json");
  cfg.intermediate_size = 100;
  message = forward_error(cfg, batches);
  EXPECT_NE(message.find("'encoder.layer.0.intermediate.dense.weight' has shape [128, 64]"),
            std::string::npos)
      << message;
}

TEST(EncoderForward, NotAnEncoderCheckpointIsNamed) {
  const EncoderConfig cfg = read_encoder_config(model_dir("bert-fp32") / "config.json");
  const std::string message = forward_error(cfg, fixture_batches("bert-fp32", "default"), 3, "llama-fp32");
  EXPECT_NE(message.find("no 'embeddings.word_embeddings.weight'"), std::string::npos) << message;
}

TEST(EncoderForward, BadBatchesAreNamed) {
  const EncoderConfig cfg = read_encoder_config(model_dir("bert-fp32") / "config.json");
  std::vector<EncoderBatch> batches = fixture_batches("bert-fp32", "default");
  std::string message = forward_error(cfg, batches, 2);
  EXPECT_NE(message.find("batch 0: 8 passages for 2 queries; with neg_number 2"), std::string::npos)
      << message;

  batches[1].passage_ids = batches[1].passage_ids.clone();
  batches[1].passage_ids[0][1] = cfg.vocab_size;
  EXPECT_NE(forward_error(cfg, batches).find("batch 1: a passage token id is outside the vocabulary"),
            std::string::npos);

  batches = fixture_batches("bert-fp32", "default");
  const int64_t too_long = cfg.max_position_embeddings + 1;
  batches[2].query_ids = torch::full({2, too_long}, 5, torch::kLong);
  batches[2].query_mask = torch::ones({2, too_long}, torch::kLong);
  EXPECT_NE(forward_error(cfg, batches).find("batch 2: query rows of 129 tokens need more than "
                                             "max_position_embeddings 128"),
            std::string::npos);
}

}  // namespace
