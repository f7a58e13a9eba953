// Keras 3 weights files (tests/fixtures/make_keras_fixtures.py) read as
// checkpoints: every dataset's bytes, name, dtype and shape as Keras stored
// them, single and sharded; the HDF5 variants h5py writes (libver latest,
// a user block, compact data); and each layout or type this reader refuses,
// with one line naming the file and the dataset.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "checkpoint_bytes.hpp"
#include "io/file.hpp"
#include "io/hdf5_reader.hpp"

namespace cocktail {
namespace {

namespace fs = std::filesystem;
using test::tensor_bytes_of;
const fs::path kKeras = fs::path(COCKTAIL_FIXTURES_DIR) / "keras";

// Every tensor of `got` is the expected one, bytes, dtype and shape.
void expect_same_tensors(const Checkpoint& got, const Checkpoint& want) {
  ASSERT_EQ(got.tensors().size(), want.tensors().size()) << got.label();
  for (const CheckpointTensor& w : want.tensors()) {
    const CheckpointTensor* g = got.find(w.info.name);
    ASSERT_NE(g, nullptr) << w.info.name;
    EXPECT_EQ(g->info.dtype, w.info.dtype) << w.info.name;
    EXPECT_EQ(g->info.shape, w.info.shape) << w.info.name;
    EXPECT_TRUE(tensor_bytes_of(got, *g) == tensor_bytes_of(want, w)) << w.info.name;
  }
}

TEST(KerasWeights, PresetFoldersFilesAndShardsReadAsKerasSavedThem) {
  for (const char* name : {"llama-f32", "llama-f32-peer", "llama-bf16"}) {
    const Checkpoint want = Checkpoint::open(kKeras / "expected" / (std::string(name) + ".safetensors"));
    expect_same_tensors(Checkpoint::open(kKeras / name), want);
    expect_same_tensors(Checkpoint::open(kKeras / name / "model.weights.h5"), want);
  }
  const Checkpoint peer = Checkpoint::open(kKeras / "expected/llama-f32-peer.safetensors");
  const Checkpoint sharded = Checkpoint::open(kKeras / "llama-f32-sharded");
  EXPECT_EQ(sharded.files().size(), 5u);
  EXPECT_EQ(sharded.index(), kKeras / "llama-f32-sharded/model.weights.json");
  expect_same_tensors(sharded, peer);
  expect_same_tensors(Checkpoint::open(kKeras / "llama-f32-sharded/model.weights.json"), peer);
  // A bf16 Keras tensor is BF16, as the merge kernels read it.
  EXPECT_EQ(Checkpoint::open(kKeras / "llama-bf16").find("layers/reversible_embedding/vars/0")->info.dtype, DType::BF16);
}

TEST(KerasWeights, LatestFormatUserBlockAndCompactData) {
  const Checkpoint want = Checkpoint::open(kKeras / "hdf5/expected.safetensors");
  expect_same_tensors(Checkpoint::open(kKeras / "hdf5/latest.weights.h5"), want);
  const Checkpoint ub = Checkpoint::open(kKeras / "hdf5/userblock.weights.h5");
  ASSERT_EQ(ub.tensors().size(), 1u);
  EXPECT_TRUE(tensor_bytes_of(ub, ub.tensors()[0]) == tensor_bytes_of(want, *want.find("layers/dense/vars/0")));
}

std::string open_error(const fs::path& path) {
  try {
    Checkpoint::open(path);
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind(path.string(), 0), 0u) << m;  // starts with the file
    return m;
  }
  ADD_FAILURE() << path << " opened";
  return "";
}

TEST(KerasWeights, LayoutsAndTypesOutsideTheSubsetAreRefusedByName) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"bad_chunked", "dataset 'layers/d/vars/0' is stored in chunks"},
      {"bad_compressed", "dataset 'layers/d/vars/0' is"},
      {"bad_big_endian", "dataset 'layers/d/vars/0' is big-endian"},
      {"bad_complex", "dataset 'layers/d/vars/0' has an HDF5 type this code cannot map to a tensor dtype (class 6"},
      {"bad_dtype_attr", "dtype attribute 'float4_e2m1fn' on 2-byte data, which this code does not know"},
      {"bad_soft_link", "group 'layers''s child 'e' is a soft link"},
      {"bad_dense_group", "group 'layers/d/vars' keeps its links in dense storage"},
  };
  for (const auto& [file, want] : cases) {
    const std::string m = open_error(kKeras / "hdf5" / (std::string(file) + ".weights.h5"));
    EXPECT_NE(m.find(want), std::string::npos) << file << ": " << m;
  }
}

TEST(KerasWeights, CutFilesAndBrokenIndexesAreRefused) {
  const fs::path dir = fs::path(::testing::TempDir()) / "cocktail_keras_cut";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string bytes = [] {
    std::ifstream in(kKeras / "llama-f32/model.weights.h5", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  // Every prefix of the file fails with an error, never a crash or a read
  // past the end (the sizes cut inside the superblock, the headers, the
  // heaps, the data).
  for (size_t n : {size_t{0}, size_t{8}, size_t{40}, size_t{100}, size_t{800}, size_t{2000}, size_t{5000},
                   bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(dir / "cut.weights.h5", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(n));
    EXPECT_THROW(Checkpoint::open(dir / "cut.weights.h5"), Error) << n;
  }
  // A weight map naming a group no shard holds, and a shard's tensor in a
  // group the map gives to another shard.
  fs::copy(kKeras / "llama-f32-sharded", dir / "s");
  std::string index = [&] {
    std::ifstream in(dir / "s/model.weights.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  const std::string bad = index;
  std::string moved = index;
  moved.replace(moved.find("\"/layers/reversible_embedding/vars\""), 35, "\"/layers/nowhere/vars\"");
  std::ofstream(dir / "s/model.weights.json") << moved;
  std::string m = open_error(dir / "s/model.weights.json");
  EXPECT_NE(m.find("is in group '/layers/reversible_embedding/vars', which weight_map does not assign"), std::string::npos) << m;
  std::ofstream(dir / "s/model.weights.json") << bad.substr(0, bad.rfind('}')) + ", \"extra\": 1}";
  Checkpoint::open(dir / "s");  // unknown top-level keys are Keras's business
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cocktail
