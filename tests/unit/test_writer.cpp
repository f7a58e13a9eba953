// What the writer emits: safetensors headers with precomputed offsets that the
// reader accepts byte for byte, the Hugging Face shard index, and shard names.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "io/safetensors_writer.hpp"
#include "io/side_files.hpp"

using namespace cocktail;
namespace fs = std::filesystem;

// Tensors packed back to back from offset 0, in the given order.
static std::vector<TensorInfo> packed(std::vector<TensorInfo> tensors) {
  uint64_t offset = 0;
  for (TensorInfo& t : tensors) {
    const uint64_t bytes = t.numel() * dtype_size(t.dtype);
    t.begin = offset;
    t.end = offset + bytes;
    offset += bytes;
  }
  return tensors;
}

static uint64_t data_bytes(const std::vector<TensorInfo>& tensors) {
  return tensors.empty() ? 0 : tensors.back().end;
}

static uint64_t le_prefix(const std::string& header) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(header[i]);
  return n;
}

static std::vector<TensorInfo> sample_tensors() {
  return packed({
      {"model.embed_tokens.weight", DType::BF16, {16, 8}},
      {"model.layers.0.self_attn.q_proj.weight", DType::F32, {8, 8}},
      {"model.norm.weight", DType::F16, {8}},
      {"scalar", DType::F64, {}},  // rank 0: one element
      {"empty", DType::F32, {0, 4}},  // zero-size
      {"position_ids", DType::I64, {1, 5}},
      {"mask", DType::BOOL, {3}},
  });
}

// ---- encode_safetensors_header ----------------------------------------------

TEST(SafetensorsWriterHeader, LengthPrefixIsLittleEndianJsonLength) {
  const std::string header = encode_safetensors_header(sample_tensors(), {{"format", "pt"}});
  ASSERT_GE(header.size(), 8u);
  const uint64_t n = le_prefix(header);
  EXPECT_EQ(n, header.size() - 8);
  // The JSON itself starts right after the prefix.
  EXPECT_EQ(header[8], '{');
  // A realistic header is far below 2^16, so only the two low bytes are set.
  EXPECT_EQ(static_cast<unsigned char>(header[0]), n & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(header[1]), (n >> 8) & 0xff);
  for (int i = 2; i < 8; ++i) EXPECT_EQ(header[i], '\0') << "byte " << i;
}

TEST(SafetensorsWriterHeader, TotalSizeIsMultipleOf8ForEveryNameLength) {
  for (size_t len = 1; len <= 64; ++len) {
    const std::vector<TensorInfo> tensors = packed({{std::string(len, 'w'), DType::F32, {3}}});
    for (const auto& metadata : {std::map<std::string, std::string>{},
                                 std::map<std::string, std::string>{{"format", "pt"}}}) {
      const std::string header = encode_safetensors_header(tensors, metadata);
      EXPECT_EQ(header.size() % 8, 0u) << "name length " << len;
      EXPECT_EQ(le_prefix(header), header.size() - 8) << "name length " << len;
    }
  }
}

TEST(SafetensorsWriterHeader, PaddingIsSpacesAfterTheJsonObject) {
  bool saw_padding = false;
  for (size_t len = 1; len <= 16; ++len) {
    const std::vector<TensorInfo> tensors = packed({{std::string(len, 'p'), DType::U8, {2}}});
    const std::string header = encode_safetensors_header(tensors, {});
    const size_t close = header.rfind('}');
    ASSERT_NE(close, std::string::npos);
    const std::string padding = header.substr(close + 1);
    EXPECT_LT(padding.size(), 8u) << "name length " << len;
    EXPECT_EQ(padding, std::string(padding.size(), ' ')) << "name length " << len;
    // Without the padding the JSON is exactly what nlohmann reads back.
    const std::string json = header.substr(8, close + 1 - 8);
    EXPECT_TRUE(nlohmann::json::accept(json)) << json;
    saw_padding |= !padding.empty();
  }
  EXPECT_TRUE(saw_padding) << "no name length needed padding, so padding was never checked";
}

TEST(SafetensorsWriterHeader, EmptyHeaderIsPaddedObject) {
  const std::string header = encode_safetensors_header({}, {});
  EXPECT_EQ(header, std::string("\x08\0\0\0\0\0\0\0", 8) + "{}      ");
  const SafetensorsHeader parsed =
      parse_safetensors_header(header.substr(8), header.size(), "empty.safetensors");
  EXPECT_TRUE(parsed.tensors.empty());
  EXPECT_TRUE(parsed.metadata.empty());
}

TEST(SafetensorsWriterHeader, RoundTripsThroughTheReader) {
  const std::vector<TensorInfo> tensors = sample_tensors();
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "merged"}};
  const std::string header = encode_safetensors_header(tensors, metadata);
  const uint64_t file_size = header.size() + data_bytes(tensors);

  const SafetensorsHeader parsed =
      parse_safetensors_header(header.substr(8), file_size, "roundtrip.safetensors");
  EXPECT_EQ(parsed.header_len, header.size() - 8);
  EXPECT_EQ(parsed.data_start(), header.size());
  EXPECT_EQ(parsed.data_start() % 8, 0u);
  EXPECT_EQ(parsed.metadata, metadata);
  ASSERT_EQ(parsed.tensors.size(), tensors.size());
  for (const TensorInfo& want : tensors) {
    const TensorInfo* got = parsed.find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->dtype, want.dtype) << want.name;
    EXPECT_EQ(got->shape, want.shape) << want.name;
    EXPECT_EQ(got->begin, want.begin) << want.name;
    EXPECT_EQ(got->end, want.end) << want.name;
  }
}

TEST(SafetensorsWriterHeader, MetadataFirstThenTensorsInGivenOrder) {
  // Deliberately not alphabetical and not the order a std::map would give.
  const std::vector<TensorInfo> tensors =
      packed({{"zeta", DType::F32, {2}}, {"alpha", DType::F16, {4}}, {"mu", DType::BF16, {1}}});
  const std::string header = encode_safetensors_header(tensors, {{"format", "pt"}});
  const auto json = nlohmann::ordered_json::parse(header.substr(8));
  std::vector<std::string> keys;
  for (const auto& [key, value] : json.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"__metadata__", "zeta", "alpha", "mu"}));
  EXPECT_EQ(json["__metadata__"], (nlohmann::ordered_json{{"format", "pt"}}));
  EXPECT_EQ(json["alpha"]["dtype"], "F16");
  EXPECT_EQ(json["alpha"]["shape"], (nlohmann::ordered_json::array({4})));
  EXPECT_EQ(json["alpha"]["data_offsets"], (nlohmann::ordered_json::array({8, 16})));
}

TEST(SafetensorsWriterHeader, NoMetadataKeyWhenMetadataIsEmpty) {
  const std::string header = encode_safetensors_header(packed({{"w", DType::F32, {1}}}), {});
  const auto json = nlohmann::json::parse(header.substr(8));
  EXPECT_FALSE(json.contains("__metadata__"));
  EXPECT_TRUE(json.contains("w"));
}

// ---- Writing real files -------------------------------------------------------

class SafetensorsWriterFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_writer_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }

  static std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
};

// config.json is written back with dump(), which recurses once per level of
// nesting: 100,000 levels overflowed the stack. It is refused when read.
TEST_F(SafetensorsWriterFiles, DeeplyNestedConfigJsonIsRefusedWhenRead) {
  write_file(dir_ / "config.json",
             "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  try {
    read_side_files(dir_, std::nullopt);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir_ / "config.json").string() +
                                         ": JSON nests arrays and objects deeper than 128 levels");
  }
}

// A Keras preset's dtype policy follows the output's dtype, as torch_dtype
// does; a mixed policy keeps float32 variables, and one this code does not
// know (quantized) is left alone.
TEST_F(SafetensorsWriterFiles, KerasDtypePolicyFollowsTheOutputsDtype) {
  auto policy_after = [&](const std::string& policy, DType out) {
    write_file(dir_ / "config.json", R"({"class_name": "LlamaBackbone", "config": {"dtype": )" + policy + "}}");
    const auto json = nlohmann::json::parse(read_side_files(dir_, out).config_json)["config"]["dtype"];
    return json.is_string() ? json.get<std::string>() : json["config"]["name"].get<std::string>();
  };
  const std::string object = R"({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "bfloat16"}})";
  EXPECT_EQ(policy_after(object, DType::F32), "float32");
  EXPECT_EQ(policy_after(object, DType::BF16), "bfloat16");
  std::string older = object;
  older.replace(older.find("\"DTypePolicy\""), 13, "\"FloatDTypePolicy\"");
  EXPECT_EQ(policy_after(older, DType::F32), "float32");
  EXPECT_EQ(policy_after(R"("float32")", DType::F16), "float16");
  EXPECT_EQ(policy_after(R"("mixed_bfloat16")", DType::F32), "mixed_bfloat16");
  EXPECT_EQ(policy_after(R"("mixed_bfloat16")", DType::BF16), "bfloat16");
  EXPECT_EQ(policy_after(R"("int8_from_float32")", DType::BF16), "int8_from_float32");
  EXPECT_EQ(policy_after(R"("float32")", DType::I32), "float32");
  // No torch_dtype appears in a Keras config.
  EXPECT_FALSE(nlohmann::json::parse(read_side_files(dir_, DType::BF16).config_json).contains("torch_dtype"));
}

TEST_F(SafetensorsWriterFiles, WrittenFileOpensAsCheckpointWithSameTensorsAndBytes) {
  const std::vector<TensorInfo> tensors = sample_tensors();
  // Each tensor's bytes are distinct so a wrong offset reads the wrong values.
  std::string data;
  for (const TensorInfo& t : tensors)
    for (uint64_t i = 0; i < t.nbytes(); ++i)
      data.push_back(static_cast<char>((t.begin + 7 * i + t.name.size()) & 0xff));
  ASSERT_EQ(data.size(), data_bytes(tensors));

  const std::string header = encode_safetensors_header(tensors, {{"format", "pt"}});
  const fs::path file = dir_ / "model.safetensors";
  write_file(file, header + data);

  const Checkpoint ckpt = Checkpoint::open(dir_);
  ASSERT_EQ(ckpt.files().size(), 1u);
  EXPECT_EQ(fs::file_size(ckpt.files()[0].path), header.size() + data.size());
  EXPECT_EQ(ckpt.files()[0].header.metadata,
            (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(ckpt.total_tensor_bytes(), data.size());
  ASSERT_EQ(ckpt.tensors().size(), tensors.size());

  const std::string on_disk = read_file(file);
  for (const TensorInfo& want : tensors) {
    const CheckpointTensor* got = ckpt.find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->info.dtype, want.dtype) << want.name;
    EXPECT_EQ(got->info.shape, want.shape) << want.name;
    EXPECT_EQ(got->info.begin, want.begin) << want.name;
    EXPECT_EQ(got->info.end, want.end) << want.name;
    EXPECT_EQ(got->file_offset(), header.size() + want.begin) << want.name;
    EXPECT_EQ(on_disk.substr(got->file_offset(), want.nbytes()),
              data.substr(want.begin, want.nbytes()))
        << want.name;
  }
}

TEST_F(SafetensorsWriterFiles, ShardsAndIndexOpenAsShardedCheckpoint) {
  // Two shards named and indexed as the writer names them.
  const std::vector<TensorInfo> first = packed({{"a.weight", DType::F32, {4}}, {"a.bias", DType::F32, {2}}});
  const std::vector<TensorInfo> second = packed({{"b.weight", DType::BF16, {3, 3}}});
  std::map<std::string, std::string> weight_map;
  uint64_t total = 0;
  for (size_t s = 0; s < 2; ++s) {
    const auto& tensors = s == 0 ? first : second;
    const std::string name = shard_file_name(s, 2);
    write_file(dir_ / name, encode_safetensors_header(tensors, {{"format", "pt"}}) +
                                std::string(data_bytes(tensors), '\x5a'));
    for (const TensorInfo& t : tensors) weight_map[t.name] = name;
    total += data_bytes(tensors);
  }
  write_file(dir_ / "model.safetensors.index.json", encode_shard_index(total, weight_map));

  const Checkpoint ckpt = Checkpoint::open(dir_);
  ASSERT_EQ(ckpt.files().size(), 2u);
  EXPECT_EQ(ckpt.files()[0].path.filename(), "model-00001-of-00002.safetensors");
  EXPECT_EQ(ckpt.files()[1].path.filename(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(ckpt.total_tensor_bytes(), total);
  ASSERT_NE(ckpt.find("b.weight"), nullptr);
  EXPECT_EQ(ckpt.find("b.weight")->file, 1u);
  EXPECT_EQ(ckpt.find("a.bias")->file, 0u);
  EXPECT_EQ(ckpt.find("a.bias")->info.begin, 16u);
}

// ---- encode_shard_index -------------------------------------------------------

TEST(SafetensorsWriterIndex, IsValidJsonWithTotalSizeAndSortedWeightMap) {
  const uint64_t total = 14'483'464'192ull;  // above 2^32: must not be truncated
  const std::map<std::string, std::string> weight_map = {
      {"model.norm.weight", "model-00002-of-00002.safetensors"},
      {"lm_head.weight", "model-00002-of-00002.safetensors"},
      {"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
  };
  const std::string text = encode_shard_index(total, weight_map);
  nlohmann::ordered_json index;
  ASSERT_NO_THROW(index = nlohmann::ordered_json::parse(text)) << text;
  ASSERT_TRUE(index.is_object());
  ASSERT_TRUE(index.contains("metadata"));
  ASSERT_TRUE(index["metadata"]["total_size"].is_number_unsigned());
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);

  ASSERT_TRUE(index["weight_map"].is_object());
  std::vector<std::string> keys;
  for (const auto& [key, value] : index["weight_map"].items()) {
    keys.push_back(key);
    EXPECT_EQ(value.get<std::string>(), weight_map.at(key)) << key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                            "model.norm.weight"}));
  // Top-level order as transformers writes it.
  EXPECT_EQ(index.begin().key(), "metadata");
  EXPECT_EQ(text.back(), '\n');
}

// ---- shard_file_name ------------------------------------------------------------

TEST(SafetensorsWriterShardName, SingleShardIsModelSafetensors) {
  EXPECT_EQ(shard_file_name(0, 1), "model.safetensors");
}

TEST(SafetensorsWriterShardName, ShardsAreOneBasedFiveDigits) {
  EXPECT_EQ(shard_file_name(0, 3), "model-00001-of-00003.safetensors");
  EXPECT_EQ(shard_file_name(1, 3), "model-00002-of-00003.safetensors");
  EXPECT_EQ(shard_file_name(2, 3), "model-00003-of-00003.safetensors");
  EXPECT_EQ(shard_file_name(0, 2), "model-00001-of-00002.safetensors");
  EXPECT_EQ(shard_file_name(41, 120), "model-00042-of-00120.safetensors");
  EXPECT_EQ(shard_file_name(99998, 99999), "model-99999-of-99999.safetensors");
}
