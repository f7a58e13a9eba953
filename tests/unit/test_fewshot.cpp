// Few-shot plumbing without a model: example files, the loss work plan, and
// losses to weights.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "fewshot/examples.hpp"
#include "fewshot/loss_plan.hpp"
#include "fewshot/weights.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

fs::path write_temp(const std::string& name, const std::string& text) {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/cocktail-fewshot-XXXXXX";
    return fs::path(mkdtemp(tmpl));
  }();
  std::ofstream(dir / name, std::ios::binary) << text;
  return dir / name;
}

std::string error_of(const std::vector<fs::path>& files, size_t neg_number = 0) {
  try {
    load_examples(files, neg_number);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Examples, JsonLinesAndJsonListArePooledInOrder) {
  const auto a = write_temp("a.jsonl", "{\"input\": \"2+2=\", \"output\": \"4\"}\n\n"
                                       "{\"input\": \"3+3=\", \"output\": \"6\"}\n");
  const auto b = write_temp("b.json", "[{\"input\": \"x\", \"output\": \"y\"}]");
  const Examples ex = load_examples({a, b}, 7);
  ASSERT_EQ(ex.decoder.size(), 3u);
  EXPECT_FALSE(ex.is_encoder());
  EXPECT_EQ(ex.decoder[1].input, "3+3=");
  EXPECT_EQ(ex.decoder[1].where, a.string() + ":3");
  EXPECT_EQ(ex.decoder[2].output, "y");
}

TEST(Examples, EncoderUsesFirstPositive) {
  const auto f = write_temp("enc.jsonl",
                            "{\"query\": \"q\", \"pos\": [\"p1\", \"p2\"], \"neg\": [\"n1\", \"n2\"]}\n");
  const Examples ex = load_examples({f}, 2);
  ASSERT_TRUE(ex.is_encoder());
  EXPECT_EQ(ex.encoder[0].pos, "p1");
  EXPECT_EQ(ex.encoder[0].neg.size(), 2u);
}

TEST(Examples, BadExamplesNameFileAndLine) {
  const auto missing = write_temp("m.jsonl", "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"a\"}\n");
  EXPECT_EQ(error_of({missing}), missing.string() + ":2: missing \"output\"");
  const auto empty = write_temp("e.jsonl", "{\"input\": \"a\", \"output\": \"\"}\n");
  EXPECT_NE(error_of({empty}).find(empty.string() + ":1: \"output\" is empty"), std::string::npos);
  const auto few = write_temp("f.jsonl", "{\"query\": \"q\", \"pos\": [\"p\"], \"neg\": [\"n\"]}\n");
  EXPECT_NE(error_of({few}, 7).find(few.string() + ":1: 1 negatives, fewer than neg_number 7"),
            std::string::npos);
  const auto bad = write_temp("bad.jsonl", "{\"input\": \"a\", \"output\": \"b\"}\n{nope\n");
  EXPECT_EQ(error_of({bad}), bad.string() + ":2: not valid JSON");
  const auto type = write_temp("t.json", "[{\"input\": 3, \"output\": \"b\"}]");
  EXPECT_EQ(error_of({type}), type.string() + ": example 1: \"input\" is not a string");
  const auto enc = write_temp("enc2.jsonl", "{\"query\": \"q\", \"pos\": [\"p\"], \"neg\": []}\n");
  const auto dec = write_temp("dec2.jsonl", "{\"input\": \"a\", \"output\": \"b\"}\n");
  EXPECT_NE(error_of({enc, dec}).find("mixes encoder examples"), std::string::npos);
  EXPECT_NE(error_of({write_temp("blank.jsonl", "\n  \n")}).find("no examples"), std::string::npos);
  // Hostile files: a number past double's range, brackets nested past 128.
  const auto huge = write_temp("huge.jsonl", "{\"input\": \"a\", \"output\": \"b\", \"x\": 1e400}\n");
  EXPECT_EQ(error_of({huge}), huge.string() + ":1: not valid JSON");
  const auto huge_list = write_temp("huge.json", "[{\"input\": \"a\", \"output\": \"b\", \"x\": 1e400}]");
  EXPECT_EQ(error_of({huge_list}).rfind(huge_list.string() + ": not valid JSON: ", 0), 0u);
  const auto deep = write_temp("deep.json", std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_EQ(error_of({deep}), deep.string() + ": the examples file nests arrays and objects deeper than 128 levels");
}

TEST(LossPlan, EveryBatchOfEveryCandidateExactlyOnceWithFewestReaders) {
  for (size_t candidates = 1; candidates <= 6; ++candidates)
    for (size_t batches = 1; batches <= 7; ++batches)
      for (int ranks = 1; ranks <= 8; ++ranks) {
        std::map<std::pair<size_t, size_t>, int> seen;
        std::map<size_t, int> readers;  // ranks that read each candidate
        for (int r = 0; r < ranks; ++r) {
          std::map<size_t, bool> reads;
          for (const LossItem& it : loss_items_for_rank(candidates, batches, ranks, r)) {
            ASSERT_GT(it.batch_count, 0u);
            reads[it.candidate] = true;
            for (size_t b = it.first_batch; b < it.first_batch + it.batch_count; ++b)
              ++seen[{it.candidate, b}];
          }
          for (const auto& [c, yes] : reads) ++readers[c];
        }
        ASSERT_EQ(seen.size(), candidates * batches);
        for (const auto& [key, n] : seen) ASSERT_EQ(n, 1);
        const size_t most = static_cast<size_t>(ranks) <= candidates
                                ? 1
                                : std::min<size_t>(batches, (ranks + candidates - 1) / candidates);
        for (const auto& [c, n] : readers) ASSERT_LE(static_cast<size_t>(n), most) << c;
      }
}

TEST(Weights, UpstreamIsMeanOfBatchMeansTokenMeanIsGlobal) {
  // One candidate, two batches: (2 over 1 token), (6 over 3 tokens).
  const std::vector<BatchPartial> p = {{2, 1}, {6, 3}};
  EXPECT_DOUBLE_EQ(candidate_losses(p, 1, LossReduction::Upstream)[0], (2.0 + 2.0) / 2);
  EXPECT_DOUBLE_EQ(candidate_losses(p, 1, LossReduction::TokenMean)[0], 8.0 / 4);
  const std::vector<BatchPartial> q = {{1, 1}, {9, 3}};
  EXPECT_DOUBLE_EQ(candidate_losses(q, 1, LossReduction::Upstream)[0], (1.0 + 3.0) / 2);
  EXPECT_DOUBLE_EQ(candidate_losses(q, 1, LossReduction::TokenMean)[0], 10.0 / 4);
}

TEST(Weights, SoftmaxOfNegativeLossOverTemperature) {
  const std::vector<double> losses = {1.0, 2.0, 4.0};
  for (double t : {5.0, 1.0, 0.1}) {
    const auto w = softmax_weights(losses, t);
    double z = 0;
    for (double l : losses) z += std::exp(-l / t);
    for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(w[i], std::exp(-losses[i] / t) / z, 1e-15);
  }
  // Huge losses do not overflow: only differences matter.
  const auto w = softmax_weights({1000.0, 1001.0}, 0.01);
  EXPECT_NEAR(w[0], 1.0, 1e-12);
  EXPECT_GE(w[1], 0.0);
}

}  // namespace
