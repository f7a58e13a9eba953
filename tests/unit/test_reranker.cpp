// Cross-encoders (rerankers) against transformers and FlagEmbedding's
// reranker loss: tests/fixtures/make_fixtures.py scored the committed
// bert-reranker and xlm-roberta-reranker (bge-reranker-v2-m3's shape, with
// XLM-R's Unigram tokenizer) with AutoModelForSequenceClassification on the
// pairs tokenizer(query, passage, truncation=True, max_length) gives. Here
// the same examples go through our pair encoding and layer-streamed forward.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "fewshot/examples.hpp"
#include "fewshot/reranker_evaluator.hpp"
#include "tensor_rows.hpp"
#include "tokenizer/special_tokens.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

const nlohmann::json& expected() {
  static const nlohmann::json all = [] {
    std::ifstream in(kFixtures / "expected/reranker_losses.json");
    return nlohmann::json::parse(in);
  }();
  return all;
}

class Reranker : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(Reranker, PairsAndLossesEqualTransformers) {
  const auto& [model, setting] = GetParam();
  const auto& s = expected()["settings"][setting];
  const auto& want = expected()["models"][model]["settings"][setting];
  const fs::path folder = kFixtures / "models" / model;
  const Tokenizer tokenizer = Tokenizer::from_file(folder / "tokenizer.json");
  const size_t neg = s["neg_number"];
  const Examples examples = load_examples({kFixtures / "examples/encoder.jsonl"}, neg);
  const auto batches = reranker_batches(tokenizer, examples.encoder, neg, s["max_input_length"],
                                        s["batch_size"], s["seed"], passes_token_type_ids(folder));
  ASSERT_EQ(batches.size(), want["batches"].size());
  const int64_t pad = read_special_ids(folder, tokenizer, false).pad;
  for (size_t b = 0; b < batches.size(); ++b) {
    const auto& f = want["batches"][b]["features"];
    const RerankerBatch t = to_reranker_batch(batches[b], pad);
    EXPECT_EQ(rows_of(t.ids), f["input_ids"].get<std::vector<std::vector<int64_t>>>()) << "batch " << b;
    EXPECT_EQ(rows_of(t.mask), f["attention_mask"].get<std::vector<std::vector<int64_t>>>()) << "batch " << b;
    if (f.contains("token_type_ids")) {
      EXPECT_EQ(rows_of(t.type_ids), f["token_type_ids"].get<std::vector<std::vector<int64_t>>>());
    } else {
      EXPECT_EQ(t.type_ids.abs().sum().item<int64_t>(), 0) << "types passed where transformers passes none";
    }
  }
  uint64_t bytes = 0;
  const Checkpoint ckpt = Checkpoint::open(folder);
  CheckpointSource source(ckpt);
  const auto partials = reranker_partials(source, batches, pad, torch::Device(torch::kCPU), bytes);
  ASSERT_EQ(partials.size(), batches.size());
  double mean = 0;
  for (size_t b = 0; b < partials.size(); ++b) {
    const double loss = partials[b].loss_sum / partials[b].count, ref = want["batches"][b]["loss"];
    EXPECT_NEAR(loss, ref, 1e-4 * std::abs(ref)) << "batch " << b;
    mean += loss / static_cast<double>(partials.size());
  }
  const double ref = want["candidate_loss"];
  EXPECT_NEAR(mean, ref, 1e-4 * std::abs(ref));
  EXPECT_GT(bytes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Reranker,
                         ::testing::Combine(::testing::Values("bert-reranker-fp32", "xlm-roberta-reranker-fp32"),
                                            ::testing::Values("default", "truncated")),
                         [](const auto& info) {
                           std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return s;
                         });

TEST(RerankerHead, AModelWithoutAHeadIsRefusedByName) {
  const fs::path folder = kFixtures / "models/bert-reranker-fp32";
  EncoderConfig cfg = read_encoder_config(folder / "config.json");
  const Checkpoint ckpt = Checkpoint::open(folder);
  const auto specs = reranker_head_specs(cfg, EncoderTensorNames(ckpt));
  EXPECT_EQ(specs.back().name, "classifier.bias");
  // The embedding fixture (a BertModel: pooler, no classifier) has no head.
  const fs::path plain = kFixtures / "models/bert-fp32";
  try {
    reranker_batch_losses(Checkpoint::open(plain), read_encoder_config(plain / "config.json"), {},
                          torch::Device(torch::kCPU));
    ADD_FAILURE() << "no error for a model without a classification head";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("classifier.weight"), std::string::npos) << e.what();
    std::cout << e.what() << "\n";
  }
}

}  // namespace
