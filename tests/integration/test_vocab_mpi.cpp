// Models of different vocabularies (tokenizer_source, the tokenizer block)
// under the real mpirun, against mergekit 0.1.5's own outputs
// (tests/fixtures/make_mergekit_vocab_fixtures.py). mergekit numbers the
// union's new tokens in a hash map's order, so rows are compared by token:
// every token of mergekit's output vocabulary has, in ours, the row
// mergekit gives it. The output's bytes are the same at any rank count and
// chunk size (the vocabulary tensors' rows are read one by one).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <nlohmann/json.hpp>

#include "io/checkpoint.hpp"
#include "merge_fixture.hpp"
#include "method_jobs.hpp"
#include "mpi_harness.hpp"

using namespace cocktail::test;
namespace fs = std::filesystem;

namespace {

class Tmp {
 public:
  Tmp() {
    char tmpl[] = "/tmp/cocktail-vocab-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~Tmp() { fs::remove_all(dir); }
  fs::path dir;
};

// Token -> id of a tokenizer.json: the model's vocabulary, then added tokens.
std::map<std::string, int64_t> token_ids(const fs::path& tokenizer_json) {
  const auto doc = nlohmann::json::parse(read_file(tokenizer_json));
  std::map<std::string, int64_t> ids;
  for (const auto& [token, id] : doc["model"]["vocab"].items()) ids.emplace(token, id.get<int64_t>());
  for (const auto& a : doc["added_tokens"]) ids.emplace(a["content"].get<std::string>(), a["id"].get<int64_t>());
  return ids;
}

std::string merge(const fs::path& dir, const std::string& job, const Layout& layout) {
  fs::create_directories(dir);
  const fs::path cfg = write_job(dir, job, layout);
  const RunResult r = run_ranks(layout.ranks, {cfg.string(), "--overwrite"});
  EXPECT_EQ(r.status, 0) << r.output;
  return read_file(dir / ("out-" + job) / "model.safetensors");
}

class VocabularyMergekit : public ::testing::TestWithParam<std::string> {};

// Bit for bit in every row, every tensor: the jobs whose method is exact
// against mergekit (task_arithmetic, linear with weights summing to 1).
TEST_P(VocabularyMergekit, EveryTokensRowIsMergekits) {
  Tmp tmp;
  const std::string job = GetParam();
  const std::string ours = merge(tmp.dir, job, {2, 1024, 1});
  const fs::path out = tmp.dir / ("out-" + job);
  const auto got = cocktail::Checkpoint::open(out);
  const auto want = cocktail::Checkpoint::open(kMergekit / "expected" / (job + ".safetensors"));
  const std::string want_bytes = read_file(want.files()[0].path);
  const auto our_ids = token_ids(out / "tokenizer.json");
  const auto want_ids = token_ids(kMergekit / "expected" / (job + ".tokenizer.json"));
  ASSERT_EQ(our_ids.size(), want_ids.size());
  const auto cfg = nlohmann::json::parse(read_file(out / "config.json"));
  const auto want_cfg = nlohmann::json::parse(read_file(kMergekit / "expected" / (job + ".config.json")));
  EXPECT_EQ(cfg["vocab_size"], want_cfg["vocab_size"]);
  for (const auto& t : want.tensors()) {
    const auto* g = got.find(t.info.name);
    ASSERT_NE(g, nullptr) << t.info.name;
    ASSERT_EQ(g->info.shape, t.info.shape) << t.info.name;
    const bool by_token = t.info.name == "model.embed_tokens.weight" || t.info.name == "lm_head.weight";
    if (!by_token) {
      EXPECT_EQ(ours.substr(g->file_offset(), g->info.nbytes()), want_bytes.substr(t.file_offset(), t.info.nbytes()))
          << t.info.name;
      continue;
    }
    const uint64_t row = t.info.nbytes() / t.info.shape[0];
    for (const auto& [token, id] : want_ids) {
      ASSERT_TRUE(our_ids.count(token)) << token;
      EXPECT_EQ(ours.substr(g->file_offset() + our_ids.at(token) * row, row),
                want_bytes.substr(t.file_offset() + id * row, row))
          << job << ": " << t.info.name << " row of token '" << token << "'";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabularyMergekit,
                         ::testing::Values("vocab_union-float32", "vocab_union-bfloat16", "vocab_base-float32",
                                           "vocab_base-bfloat16", "vocab_model-bfloat16"),
                         param_name);

// The padded, configured vocabulary at other rank counts and chunk sizes:
// the same bytes.
TEST(VocabularyLayouts, SameBytesAtAnyRankCountAndChunkSize) {
  Tmp tmp;
  const std::string job = "vocab_tokens-bfloat16";
  const std::string one = merge(tmp.dir / "1", job, {1, 1 << 20, 1});
  for (const Layout& l : {Layout{2, 1024, 1}, Layout{3, 2048, 2}, Layout{kAlone, 4096, 1}})
    EXPECT_EQ(merge(tmp.dir / std::to_string(l.ranks), job, l), one) << l.ranks << " ranks, chunk " << l.chunk;
}

// Vocabularies that cannot be merged: one line naming the file or tensor on
// every rank, a non-zero exit, and no output.
struct BadVocabulary {
  std::string name;
  void (*spoil)(const fs::path& inputs);  // the inputs: base, a, b of vocab-float32
  std::string expect;
};

std::string param_name(const ::testing::TestParamInfo<BadVocabulary>& info) { return info.param.name; }

class BadVocabularies : public ::testing::TestWithParam<BadVocabulary> {};

TEST_P(BadVocabularies, FailOnEveryRankWithOneLineAndNoOutput) {
  Tmp tmp;
  const fs::path inputs = tmp.dir / "inputs";
  fs::create_directories(inputs);
  fs::copy(kMergekit / "inputs" / "vocab-float32", inputs, fs::copy_options::recursive);
  GetParam().spoil(inputs);
  std::string job = read_file(kMergekit / "jobs" / "vocab_union-float32.yaml");
  job = std::regex_replace(job, std::regex("\\.\\./inputs/vocab-float32/"), inputs.string() + "/");
  write_file(tmp.dir / "job.yaml", job + "output: " + (tmp.dir / "out").string() + "\nprogress_interval: 0\n");
  const RunResult r = run_mpi(2, {(tmp.dir / "job.yaml").string()}, true);
  ASSERT_EQ(r.rank_status.size(), 2u) << r.output;
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  EXPECT_EQ(r.lines_containing(GetParam().expect), 1) << r.output;
  EXPECT_FALSE(fs::exists(tmp.dir / "out"));
}

void set_vocab_size(const fs::path& model, int rows) {
  auto config = nlohmann::json::parse(read_file(model / "config.json"));
  config["vocab_size"] = rows;
  write_file(model / "config.json", config.dump(2));
}

INSTANTIATE_TEST_SUITE_P(
    All, BadVocabularies,
    ::testing::Values(
        BadVocabulary{"MissingTokenizerJson", [](const fs::path& d) { fs::remove(d / "a" / "tokenizer.json"); },
                      "a/tokenizer.json: missing; merging vocabularies needs each model's tokenizer.json"},
        BadVocabulary{"TokenizerJsonNotJson", [](const fs::path& d) { write_file(d / "b" / "tokenizer.json", "{\"model\": "); },
                      "b/tokenizer.json: the tokenizer is not valid JSON"},
        BadVocabulary{"NotATokenizer", [](const fs::path& d) { write_file(d / "b" / "tokenizer.json", "{\"version\": 1}"); },
                      "b/tokenizer.json: not a tokenizer (no \"model\" object)"},
        // config.json promises more rows than the embedding has.
        BadVocabulary{"FewerRowsThanVocabSize", [](const fs::path& d) { set_vocab_size(d / "b", 40); },
                      "but its config.json says vocab_size 40"},
        // An embedding of another width: the rows cannot be mixed.
        BadVocabulary{"OtherHiddenSize",
                      [](const fs::path& d) {
                        auto ts = cocktail::Checkpoint::open(d / "b");
                        std::vector<FixtureTensor> out;
                        const std::string bytes = read_file(ts.files()[0].path);
                        for (const auto& t : ts.tensors()) {
                          std::vector<uint64_t> shape = t.info.shape;
                          std::string data = bytes.substr(t.file_offset(), t.info.nbytes());
                          if (t.info.name == "model.embed_tokens.weight") {
                            shape[1] /= 2;
                            data.resize(data.size() / 2);
                          }
                          out.push_back({t.info.name, "F32", shape, std::vector<uint8_t>(data.begin(), data.end())});
                        }
                        write_safetensors(d / "b" / "model.safetensors", out);
                      },
                      "tensor 'model.embed_tokens.weight': shape"}),
    param_name);

}  // namespace
