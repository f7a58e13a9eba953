// Embedding-model examples to token rows, against what transformers' tokenizer
// call gave the fixtures (truncation keeps [CLS] and [SEP], right padding).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "fewshot/encoder_evaluator.hpp"
#include "fewshot/examples.hpp"
#include "tensor_rows.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;

TEST(EncoderSequences, QueriesAndPositivesAsTransformersTokenisesThem) {
  std::ifstream in(kFixtures / "expected/encoder_losses.json");
  const auto expected = nlohmann::json::parse(in);
  const Tokenizer tokenizer = Tokenizer::from_file(kFixtures / "models/bert-fp32/tokenizer.json");
  const Examples examples = load_examples({kFixtures / "examples/encoder.jsonl"}, 3);
  for (const std::string setting : {"default", "truncated"}) {
    const auto& s = expected["settings"][setting];
    const auto batches = encoder_batches(tokenizer, examples.encoder, 3, s["max_input_length"],
                                         s["batch_size"], /*seed=*/0);
    const auto& want = expected["models"]["bert-fp32"]["settings"][setting]["batches"];
    ASSERT_EQ(batches.size(), want.size()) << setting;
    for (size_t b = 0; b < batches.size(); ++b) {
      const EncoderBatch got = to_encoder_batch(batches[b], /*pad_id=*/0);
      EXPECT_EQ(rows_of(got.query_ids), want[b]["queries"]["input_ids"].get<std::vector<std::vector<int64_t>>>())
          << setting << " batch " << b;
      EXPECT_EQ(rows_of(got.query_mask),
                want[b]["queries"]["attention_mask"].get<std::vector<std::vector<int64_t>>>());
      // Positives sit at i * (1 + neg_number); negatives are sampled, so only
      // their count and their ids' membership are fixed.
      const auto passages = want[b]["passages"]["input_ids"].get<std::vector<std::vector<int64_t>>>();
      ASSERT_EQ(batches[b].passages.size(), passages.size());
      for (size_t q = 0; q < batches[b].queries.size(); ++q) {
        std::vector<int64_t> pos = passages[q * 4];
        while (!pos.empty() && pos.back() == 0) pos.pop_back();
        EXPECT_EQ(batches[b].passages[q * 4], pos) << setting << " batch " << b << " query " << q;
      }
    }
  }
}

TEST(EncoderSequences, NegativesAreSampledWithoutReplacementFromTheSeed) {
  for (size_t example = 0; example < 20; ++example) {
    const auto a = sample_negatives(9, 4, 7, example);
    EXPECT_EQ(a, sample_negatives(9, 4, 7, example));  // same seed, same draw
    EXPECT_EQ(std::set<size_t>(a.begin(), a.end()).size(), 4u);
    for (size_t i : a) EXPECT_LT(i, 9u);
  }
  EXPECT_NE(sample_negatives(9, 4, 7, 0), sample_negatives(9, 4, 8, 0));
}

}  // namespace
