// Checkpoint discovery: single files, HF folders, sharded indexes, and the
// ways an index can disagree with its shards.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A valid safetensors file of U8 vectors named as given, packed in order;
// tensor i holds sizes[i] bytes of value i + 1.
void write_st(const fs::path& path, const std::vector<std::pair<std::string, uint64_t>>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::string data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, size] = tensors[i];
    header += ",\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(size) +
              "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + size) + "]}";
    data.append(size, static_cast<char>(i + 1));
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>(header.size() >> (8 * i));
  write_bytes(path, prefix + header + data);
}

void write_index(const fs::path& folder, const std::vector<std::pair<std::string, std::string>>& map) {
  std::string json = "{\"metadata\":{\"total_size\":0},\"weight_map\":{";
  for (size_t i = 0; i < map.size(); ++i) {
    json += (i ? "," : "") + ("\"" + map[i].first + "\":\"" + map[i].second + "\"");
  }
  write_bytes(folder / "model.safetensors.index.json", json + "}}");
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_ckpt_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Two shards as Hugging Face writes them, b.* deliberately listed first.
  void write_sharded() {
    write_st(dir_ / "model-00001-of-00002.safetensors", {{"a.x", 4}, {"a.y", 2}});
    write_st(dir_ / "model-00002-of-00002.safetensors", {{"b.x", 3}});
    write_index(dir_, {{"b.x", "model-00002-of-00002.safetensors"},
                       {"a.y", "model-00001-of-00002.safetensors"},
                       {"a.x", "model-00001-of-00002.safetensors"}});
  }

  void expect_error(const fs::path& path, const std::string& part) {
    try {
      Checkpoint::open(path);
      ADD_FAILURE() << "opened, expected error containing: " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
    }
  }

  fs::path dir_;
};

TEST_F(CheckpointTest, SingleFile) {
  const fs::path file = dir_ / "tiny.safetensors";
  write_st(file, {{"w", 5}, {"v", 3}});
  const Checkpoint c = Checkpoint::open(file);
  EXPECT_EQ(c.path(), file);
  EXPECT_EQ(c.folder(), dir_);
  ASSERT_EQ(c.files().size(), 1u);
  EXPECT_EQ(c.files()[0].header.data_start() + c.files()[0].header.tensors.back().end, fs::file_size(file));
  ASSERT_EQ(c.tensors().size(), 2u);
  EXPECT_EQ(c.tensors()[0].info.name, "w");
  EXPECT_EQ(c.tensors()[1].info.name, "v");
  EXPECT_EQ(c.total_tensor_bytes(), 8u);

  // The offset must land on the tensor's bytes (v is filled with 2s).
  const CheckpointTensor* v = c.find("v");
  ASSERT_NE(v, nullptr);
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(v->file_offset()));
  EXPECT_EQ(in.get(), 2);
  EXPECT_EQ(c.find("missing"), nullptr);
}

TEST_F(CheckpointTest, FolderWithModelSafetensors) {
  write_st(dir_ / "model.safetensors", {{"w", 5}});
  write_bytes(dir_ / "config.json", "{}");
  const Checkpoint c = Checkpoint::open(dir_);
  EXPECT_EQ(c.folder(), dir_);
  ASSERT_EQ(c.files().size(), 1u);
  EXPECT_EQ(c.files()[0].path, dir_ / "model.safetensors");
  ASSERT_NE(c.find("w"), nullptr);
}

TEST_F(CheckpointTest, FolderWithIndexAndTwoShards) {
  write_sharded();
  const Checkpoint c = Checkpoint::open(dir_);
  ASSERT_EQ(c.files().size(), 2u);
  EXPECT_EQ(c.files()[0].path.filename(), "model-00001-of-00002.safetensors");
  EXPECT_EQ(c.files()[1].path.filename(), "model-00002-of-00002.safetensors");
  ASSERT_EQ(c.tensors().size(), 3u);
  EXPECT_EQ(c.tensors()[0].info.name, "a.x");
  EXPECT_EQ(c.tensors()[1].info.name, "a.y");
  EXPECT_EQ(c.tensors()[2].info.name, "b.x");
  EXPECT_EQ(c.find("b.x")->file, 1u);
  EXPECT_EQ(c.total_tensor_bytes(), 9u);

  // Passing the index file itself opens the same checkpoint.
  const Checkpoint same = Checkpoint::open(dir_ / "model.safetensors.index.json");
  EXPECT_EQ(same.tensors().size(), 3u);
  EXPECT_EQ(same.folder(), dir_);
}

TEST_F(CheckpointTest, MissingShard) {
  write_sharded();
  fs::remove(dir_ / "model-00002-of-00002.safetensors");
  expect_error(dir_, "missing shard 'model-00002-of-00002.safetensors'");
}

TEST_F(CheckpointTest, WeightMapPointsToWrongFile) {
  write_sharded();
  write_index(dir_, {{"b.x", "model-00001-of-00002.safetensors"},
                     {"a.y", "model-00001-of-00002.safetensors"},
                     {"a.x", "model-00002-of-00002.safetensors"}});
  expect_error(dir_,
               "weight_map assigns tensor 'a.x' to 'model-00002-of-00002.safetensors' but it is "
               "in 'model-00001-of-00002.safetensors'");
}

TEST_F(CheckpointTest, ExtraTensorInShard) {
  write_sharded();
  write_st(dir_ / "model-00002-of-00002.safetensors", {{"b.x", 3}, {"b.extra", 1}});
  expect_error(dir_,
               "tensor 'b.extra' in shard 'model-00002-of-00002.safetensors' is not listed in "
               "weight_map");
}

TEST_F(CheckpointTest, TensorMissingFromItsShard) {
  write_sharded();
  write_index(dir_, {{"b.x", "model-00002-of-00002.safetensors"},
                     {"a.y", "model-00001-of-00002.safetensors"},
                     {"a.x", "model-00001-of-00002.safetensors"},
                     {"ghost", "model-00002-of-00002.safetensors"}});
  expect_error(dir_, "weight_map assigns tensor 'ghost' to 'model-00002-of-00002.safetensors', "
                     "which does not hold it");
}

TEST_F(CheckpointTest, TensorInTwoShards) {
  write_sharded();
  write_st(dir_ / "model-00002-of-00002.safetensors", {{"b.x", 3}, {"a.x", 4}});
  expect_error(dir_, "tensor 'a.x' appears in both");
}

TEST_F(CheckpointTest, PathTraversalInWeightMap) {
  write_sharded();
  for (const char* hostile : {"../model-00002-of-00002.safetensors", "/etc/passwd", "..", ".", "",
                              "sub/model.safetensors"}) {
    write_index(dir_, {{"a.x", "model-00001-of-00002.safetensors"},
                       {"a.y", "model-00001-of-00002.safetensors"},
                       {"b.x", hostile}});
    expect_error(dir_, "not a plain file name inside the checkpoint folder");
  }
}

TEST_F(CheckpointTest, IndexJsonProblems) {
  write_sharded();
  const fs::path index = dir_ / "model.safetensors.index.json";
  write_bytes(index, "{\"weight_map\":{\"a.x\":\"s\",\"a.x\":\"t\"}}");
  expect_error(dir_, "index has duplicate key 'a.x' inside 'weight_map'");
  write_bytes(index, "{\"weight_map\":[1]}");
  expect_error(dir_, "\"weight_map\" is not an object");
  write_bytes(index, "{\"metadata\":{}}");
  expect_error(dir_, "index has no \"weight_map\"");
  write_bytes(index, "{\"weight_map\":{}}");
  expect_error(dir_, "\"weight_map\" lists no tensors");
  write_bytes(index, "{\"weight_map\":{\"a.x\":3}}");
  expect_error(dir_, "weight_map entry for tensor 'a.x' is not a file name string");
  write_bytes(index, "{\"weight_map\":");
  expect_error(dir_, "index is not valid JSON");
  write_bytes(index, "{\"metadata\":{\"total_size\":1e400},\"weight_map\":{\"a.x\":\"s\"}}");
  expect_error(dir_, "index is not valid JSON: number overflow parsing '1e400'");
  write_bytes(index, "{\"weight_map\":{\"a.x\":" + std::string(1000, '[') + std::string(1000, ']') + "}}");
  expect_error(dir_, "index nests arrays and objects deeper than 128 levels");
}

TEST_F(CheckpointTest, ShardHeaderErrorNamesShard) {
  write_sharded();
  write_bytes(dir_ / "model-00002-of-00002.safetensors", "short");
  expect_error(dir_, "model-00002-of-00002.safetensors: file is 5 bytes");
}

TEST_F(CheckpointTest, NoWeightsInFolder) {
  write_bytes(dir_ / "config.json", "{}");
  expect_error(dir_, dir_.string() +
                         ": no model.safetensors, model.safetensors.index.json, model.weights.h5 or model.weights.json");
  write_bytes(dir_ / "pytorch_model.bin", "PK");
  expect_error(dir_, ".bin checkpoints are not supported: convert to safetensors");
}

TEST_F(CheckpointTest, NonexistentPath) {
  const fs::path missing = dir_ / "nope";
  expect_error(missing, missing.string() + ": no such file or directory");
}

}  // namespace
}  // namespace cocktail
