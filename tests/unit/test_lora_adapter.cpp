// PEFT LoRA adapters as candidates: every tensor of base+adapter, as the
// readers see it, against what peft's merge_and_unload() made of the same
// files (tests/fixtures/make_lora_fixtures.py), any cut of a read giving
// the same bytes, and adapters that do not fit refused with one line.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "element_math.hpp"
#include "io/checkpoint.hpp"
#include "checkpoint_bytes.hpp"
#include "io/lora_delta.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;
using test::tensor_bytes_of;
const fs::path kFixtures = COCKTAIL_FIXTURES_DIR;
const fs::path kLora = kFixtures / "lora";

struct Case {
  const char* base;
  const char* adapter;
};

class LoraFixture : public ::testing::TestWithParam<Case> {};

// Adapted tensors equal peft's merged ones bit for bit; every other tensor
// is the base's, byte for byte.
TEST_P(LoraFixture, EveryTensorIsWhatMergeAndUnloadGives) {
  const fs::path base_dir = std::string(GetParam().base).starts_with("gpt2") ? kLora / GetParam().base
                                                                           : kFixtures / "models" / GetParam().base;
  const Checkpoint base = Checkpoint::open(base_dir);
  const Checkpoint adapted = Checkpoint::open(base_dir, kLora / GetParam().adapter);
  const Checkpoint expected = Checkpoint::open(kLora / "expected" / (std::string(GetParam().adapter) + ".safetensors"));
  EXPECT_EQ(adapted.label(), base_dir.string() + "+" + (kLora / GetParam().adapter).string());
  size_t compared = 0;
  for (const CheckpointTensor& t : adapted.tensors()) {
    const std::vector<std::byte> ours = tensor_bytes_of(adapted, t);
    const CheckpointTensor* want = expected.find(t.info.name);
    if (!want) {
      EXPECT_TRUE(ours == tensor_bytes_of(base, *base.find(t.info.name))) << t.info.name << " differs from the base";
      continue;
    }
    ++compared;
    ASSERT_EQ(want->info.dtype, t.info.dtype) << t.info.name;
    const std::vector<std::byte> theirs = tensor_bytes_of(expected, *want);
    // Bit for bit: the product is specified (kernels/lora_update.hpp) as the
    // one torch computed for these fixtures, so any machine gives these bytes.
    // A wrong rounding rule changed 5% of a bf16 tensor; one rounding of the
    // product instead of an fma, 3 to 15% of a float32 one.
    for (size_t i = 0; i < t.info.numel(); ++i)
      ASSERT_EQ(load_as_f32(ours.data(), t.info.dtype, i), load_as_f32(theirs.data(), t.info.dtype, i))
          << t.info.name << " element " << i;
  }
  EXPECT_EQ(compared, expected.tensors().size());
}

// Any range, cut anywhere, reads the bytes of the whole read: the update of
// an element comes from the same product whatever range holds it.
TEST_P(LoraFixture, AnyCutReadsTheSameBytes) {
  const fs::path base_dir = std::string(GetParam().base).starts_with("gpt2") ? kLora / GetParam().base
                                                                           : kFixtures / "models" / GetParam().base;
  const Checkpoint adapted = Checkpoint::open(base_dir, kLora / GetParam().adapter);
  for (const CheckpointTensor& t : adapted.tensors()) {
    if (!t.lora) continue;
    const std::vector<std::byte> whole = tensor_bytes_of(adapted, t);
    const uint64_t size = dtype_size(t.info.dtype);
    for (uint64_t piece : {uint64_t{1}, uint64_t{7}, t.info.shape[1] * 3 + 5}) {
      std::vector<std::byte> cut(whole.size());
      for (uint64_t e = 0; e < t.info.numel(); e += piece)
        read_checkpoint_elements(adapted, t, e, std::min(piece, t.info.numel() - e), cut.data() + e * size);
      ASSERT_TRUE(cut == whole) << t.info.name << " read " << piece << " elements at a time";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Peft, LoraFixture,
                         ::testing::Values(Case{"llama-fp32", "llama-fp32-qv"}, Case{"llama-fp32", "llama-fp32-rs"},
                                           Case{"llama-bf16", "llama-bf16-qv"}, Case{"llama-bf16", "llama-bf16-emb"},
                                           Case{"gpt2-fp32", "gpt2-fp32-fifo"}),
                         [](const auto& info) {
                           std::string name = info.param.adapter;
                           std::erase(name, '-');
                           return name;
                         });

// ---- adapters that do not fit ----------------------------------------------

class BadAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_lora_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::copy(kLora / "llama-fp32-qv", dir_ / "a");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void edit_config(const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(dir_ / "a/adapter_config.json"));
    change(j);
    std::ofstream(dir_ / "a/adapter_config.json") << j.dump();
  }
  // The one-line message of opening base+adapter.
  std::string error(const fs::path& base = kFixtures / "models/llama-fp32") {
    try {
      Checkpoint::open(base, dir_ / "a");
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      return m;
    }
    ADD_FAILURE() << "opened";
    return "";
  }
  fs::path dir_;
};

TEST_F(BadAdapter, RankOtherThanTheConfigs) {
  edit_config([](nlohmann::json& j) { j["r"] = 8; });
  const std::string m = error();
  EXPECT_NE(m.find("rank mismatch for 'model.layers.0.self_attn.q_proj'"), std::string::npos) << m;
  EXPECT_NE(m.find("adapter_config.json says r = 8"), std::string::npos) << m;
}

TEST_F(BadAdapter, RankPatternOtherThanTheTensors) {
  edit_config([](nlohmann::json& j) { j["rank_pattern"] = {{"v_proj", 2}}; });
  EXPECT_NE(error().find("r = 2 (rank_pattern)"), std::string::npos);
}

TEST_F(BadAdapter, BaseOfAnotherArchitecture) {
  // qwen2's q_proj has another shape; bert has no such module at all.
  std::string m = error(kFixtures / "models/gemma2-fp32");
  EXPECT_NE(m.find("adapter_model.safetensors"), std::string::npos) << m;
  EXPECT_NE(m.find("do not fit the base's 'model.layers.0.self_attn.q_proj.weight'"), std::string::npos) << m;
  m = error(kFixtures / "models/bert-fp32");
  EXPECT_NE(m.find("which the base model " + (kFixtures / "models/bert-fp32").string() + " does not have"),
            std::string::npos)
      << m;
}

TEST_F(BadAdapter, TargetModulesThatDoNotNameTheAdaptedModules) {
  edit_config([](nlohmann::json& j) { j["target_modules"] = {"k_proj", "v_proj"}; });
  const std::string m = error();
  EXPECT_NE(m.find("adapts 'model.layers.0.self_attn.q_proj', which"), std::string::npos) << m;
  EXPECT_NE(m.find("target_modules does not name"), std::string::npos) << m;
}

TEST_F(BadAdapter, VariantsThatAreNotScaleTimesBA) {
  edit_config([](nlohmann::json& j) { j["use_dora"] = true; });
  EXPECT_NE(error().find("key 'use_dora' is true; only plain LoRA"), std::string::npos);
  edit_config([](nlohmann::json& j) {
    j["use_dora"] = false;
    j["peft_type"] = "IA3";
  });
  EXPECT_NE(error().find("key 'peft_type' is 'IA3'; only LORA adapters"), std::string::npos);
}

TEST_F(BadAdapter, MissingFilesAndHalfPairs) {
  fs::remove(dir_ / "a/adapter_model.safetensors");
  EXPECT_NE(error().find("adapter_model.safetensors: missing"), std::string::npos);
  fs::remove(dir_ / "a/adapter_config.json");
  EXPECT_NE(error().find("adapter_config.json"), std::string::npos);
  fs::remove_all(dir_ / "a");
  fs::create_directory(dir_ / "a");
  fs::copy(kLora / "llama-fp32-qv/adapter_config.json", dir_ / "a");
  // Only the B of one module: rewrite the file with the A dropped.
  const Checkpoint full = Checkpoint::open(kLora / "llama-fp32-qv/adapter_model.safetensors");
  std::string header = "{";
  std::string data;
  for (const CheckpointTensor& t : full.tensors()) {
    if (t.info.name == "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight") continue;
    std::vector<std::byte> bytes(t.info.nbytes());
    read_checkpoint_elements(full, t, 0, t.info.numel(), bytes.data());
    header += (header.size() > 1 ? "," : "") + std::string("\"") + t.info.name + "\":{\"dtype\":\"F32\",\"shape\":[" +
              std::to_string(t.info.shape[0]) + "," + std::to_string(t.info.shape[1]) + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(data.size() + bytes.size()) + "]}";
    data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  header += "}";
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>(header.size() >> (8 * i));
  std::ofstream(dir_ / "a/adapter_model.safetensors", std::ios::binary) << prefix << header << data;
  const std::string m = error();
  EXPECT_NE(m.find("'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight' has no "
                   "'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight'"),
            std::string::npos)
      << m;
}

}  // namespace
}  // namespace cocktail
