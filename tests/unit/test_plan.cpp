// The merge plan: output sharding as Hugging Face does it, work units that
// tile every tensor, their split across ranks, and the checks that decide
// what each output tensor is made from.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "plan/merge_plan.hpp"
#include "plan/output_layout.hpp"
#include "plan/tensor_plan.hpp"
#include "plan/work_units.hpp"

using namespace cocktail;
namespace fs = std::filesystem;

// ---- Helpers ----------------------------------------------------------------

// Output tensor of `bytes` U8 elements, enough for the layout (no sources).
static PlannedTensor out_tensor(const std::string& name, uint64_t bytes) {
  PlannedTensor t;
  t.name = name;
  t.shape = {bytes};
  t.numel = bytes;
  t.out_dtype = DType::U8;
  return t;
}

static std::vector<std::string> names_of(const std::vector<PlannedTensor>& tensors,
                                         const std::vector<size_t>& indices) {
  std::vector<std::string> out;
  for (size_t i : indices) out.push_back(tensors[i].name);
  return out;
}

// Input tensors that PlannedTensor::sources can point at; a deque keeps the
// addresses stable while more are added.
class PlanSourcePool {
 public:
  PlannedTensor tensor(const std::string& name, std::vector<uint64_t> shape, DType out,
                       const std::vector<DType>& inputs,
                       TensorAction action = TensorAction::Merge) {
    PlannedTensor t;
    t.name = name;
    t.shape = shape;
    t.numel = std::accumulate(shape.begin(), shape.end(), uint64_t{1}, std::multiplies<>());
    t.action = action;
    t.out_dtype = out;
    for (size_t m = 0; m < inputs.size(); ++m) {
      CheckpointTensor& src = storage_.emplace_back();
      src.info = TensorInfo{name, inputs[m], shape, 0, t.numel * dtype_size(inputs[m])};
      t.sources.push_back({m, &src});
    }
    return t;
  }

 private:
  std::deque<CheckpointTensor> storage_;
};

// Llama-2-7B shapes: two BF16 models summed into BF16.
static std::vector<PlannedTensor> llama_7b_like(PlanSourcePool& pool) {
  const uint64_t hidden = 4096, inter = 11008, vocab = 32000;
  const std::vector<DType> in = {DType::BF16, DType::BF16};
  std::vector<PlannedTensor> t;
  t.push_back(pool.tensor("model.embed_tokens.weight", {vocab, hidden}, DType::BF16, in));
  for (int l = 0; l < 32; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
      t.push_back(pool.tensor(p + "self_attn." + proj + ".weight", {hidden, hidden}, DType::BF16, in));
    t.push_back(pool.tensor(p + "mlp.gate_proj.weight", {inter, hidden}, DType::BF16, in));
    t.push_back(pool.tensor(p + "mlp.up_proj.weight", {inter, hidden}, DType::BF16, in));
    t.push_back(pool.tensor(p + "mlp.down_proj.weight", {hidden, inter}, DType::BF16, in));
    t.push_back(pool.tensor(p + "input_layernorm.weight", {hidden}, DType::BF16, in));
    t.push_back(pool.tensor(p + "post_attention_layernorm.weight", {hidden}, DType::BF16, in));
  }
  t.push_back(pool.tensor("model.norm.weight", {hidden}, DType::BF16, in));
  t.push_back(pool.tensor("lm_head.weight", {vocab, hidden}, DType::BF16, in));
  return t;
}

static std::vector<uint64_t> rank_costs(const std::vector<WorkUnit>& units,
                                        const std::vector<PlannedTensor>& tensors,
                                        const std::vector<size_t>& bounds) {
  std::vector<uint64_t> costs;
  for (size_t r = 0; r + 1 < bounds.size(); ++r) {
    uint64_t c = 0;
    for (size_t u = bounds[r]; u < bounds[r + 1]; ++u) c += unit_cost(units[u], tensors[units[u].tensor]);
    costs.push_back(c);
  }
  return costs;
}

// bounds has ranks + 1 entries, starts at 0, ends at the unit count, never decreases.
static void expect_contiguous_cover(const std::vector<size_t>& bounds, size_t units, int ranks) {
  ASSERT_EQ(bounds.size(), static_cast<size_t>(ranks) + 1) << "ranks " << ranks;
  EXPECT_EQ(bounds.front(), 0u) << "ranks " << ranks;
  EXPECT_EQ(bounds.back(), units) << "ranks " << ranks;
  EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end())) << "ranks " << ranks;
}

// ---- make_output_layout ---------------------------------------------------------

TEST(OutputLayout, GreedyShardingInTensorOrderLikeHuggingFace) {
  // Limit 100 bytes. Walk-through of huggingface_hub's split_state_dict_into_shards:
  //   a(40) b(50) -> current [a b] = 90
  //   c(150) > limit -> own shard, appended now, before [a b ...]
  //   d(10) -> [a b d] = 100, exactly the limit: still fits
  //   e(60) -> 160 > 100: close [a b d], current [e]
  //   f(40) g(0) -> [e f g] = 100 (a zero-size tensor always fits)
  //   h(100) -> 200 > 100: close [e f g], current [h] (equal to the limit is not "larger")
  //   i(0) -> [h i]
  const std::vector<PlannedTensor> tensors = {
      out_tensor("a", 40), out_tensor("b", 50), out_tensor("c", 150),
      out_tensor("d", 10), out_tensor("e", 60), out_tensor("f", 40),
      out_tensor("g", 0),  out_tensor("h", 100), out_tensor("i", 0)};
  const OutputLayout layout = make_output_layout(tensors, 100, {{"format", "pt"}});

  ASSERT_EQ(layout.shards.size(), 4u);
  using Names = std::vector<std::string>;
  EXPECT_EQ(names_of(tensors, layout.shards[0].tensors), (Names{"c"}));
  EXPECT_EQ(names_of(tensors, layout.shards[1].tensors), (Names{"a", "b", "d"}));
  EXPECT_EQ(names_of(tensors, layout.shards[2].tensors), (Names{"e", "f", "g"}));
  EXPECT_EQ(names_of(tensors, layout.shards[3].tensors), (Names{"h", "i"}));
  EXPECT_EQ(layout.shards[0].file_name, "model-00001-of-00004.safetensors");
  EXPECT_EQ(layout.shards[1].file_name, "model-00002-of-00004.safetensors");
  EXPECT_EQ(layout.shards[2].file_name, "model-00003-of-00004.safetensors");
  EXPECT_EQ(layout.shards[3].file_name, "model-00004-of-00004.safetensors");
  EXPECT_EQ(layout.shard_of, (std::vector<size_t>{1, 1, 0, 1, 2, 2, 2, 3, 3}));
  EXPECT_EQ(layout.total_tensor_bytes, 450u);
}

TEST(OutputLayout, OversizedTensorsEachGetOwnShardBeforeTheOneBeingFilled) {
  // HF order: [big1] [big2] [s1 s2], the small ones keep filling one shard.
  const std::vector<PlannedTensor> tensors = {out_tensor("big1", 101), out_tensor("s1", 30),
                                              out_tensor("big2", 500), out_tensor("s2", 70)};
  const OutputLayout layout = make_output_layout(tensors, 100, {});
  ASSERT_EQ(layout.shards.size(), 3u);
  using Names = std::vector<std::string>;
  EXPECT_EQ(names_of(tensors, layout.shards[0].tensors), (Names{"big1"}));
  EXPECT_EQ(names_of(tensors, layout.shards[1].tensors), (Names{"big2"}));
  EXPECT_EQ(names_of(tensors, layout.shards[2].tensors), (Names{"s1", "s2"}));
}

TEST(OutputLayout, EverythingUnderTheLimitIsOneModelSafetensors) {
  const std::vector<PlannedTensor> tensors = {out_tensor("x", 10), out_tensor("y", 0),
                                              out_tensor("z", 90)};
  const OutputLayout layout = make_output_layout(tensors, 100, {{"format", "pt"}});
  ASSERT_EQ(layout.shards.size(), 1u);
  EXPECT_EQ(layout.shards[0].file_name, "model.safetensors");
  EXPECT_EQ(layout.shards[0].tensors, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(layout.shard_of, (std::vector<size_t>{0, 0, 0}));
}

TEST(OutputLayout, FileOffsetsAreHeaderSizePlusRunningOffset) {
  PlanSourcePool pool;
  // Mixed element sizes so byte offsets differ from element counts.
  const std::vector<PlannedTensor> tensors = {
      pool.tensor("w1", {3, 5}, DType::F32, {DType::F32}),                  // 60 bytes
      pool.tensor("n1", {7}, DType::BF16, {DType::BF16}),                   // 14
      pool.tensor("ids", {2, 3}, DType::I64, {DType::I64}, TensorAction::CopyReference),  // 48
      pool.tensor("empty", {0}, DType::F16, {DType::F16}),                  // 0
      pool.tensor("w2", {30}, DType::F64, {DType::F64}),                    // 240 > limit
      pool.tensor("s", {}, DType::F32, {DType::F32}),                       // 4 (rank 0)
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  const OutputLayout layout = make_output_layout(tensors, 128, metadata);
  ASSERT_EQ(layout.shards.size(), 2u);
  EXPECT_EQ(layout.shards[0].tensors, (std::vector<size_t>{4}));
  EXPECT_EQ(layout.shards[1].tensors, (std::vector<size_t>{0, 1, 2, 3, 5}));

  uint64_t total = 0;
  for (const OutputShard& shard : layout.shards) {
    const std::string& header = shard.header;
    ASSERT_GE(header.size(), 8u);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(header[i]);
    ASSERT_EQ(header.size(), 8 + n);
    EXPECT_EQ(header.size() % 8, 0u);

    uint64_t running = 0;
    for (size_t i : shard.tensors) {
      EXPECT_EQ(layout.file_offset[i], header.size() + running) << tensors[i].name;
      running += tensors[i].out_bytes();
    }
    EXPECT_EQ(shard.file_size, header.size() + running) << shard.file_name;
    total += running;

    // The reader accepts the header for a file of exactly file_size bytes and
    // finds every tensor where file_offset says.
    const SafetensorsHeader parsed =
        parse_safetensors_header(header.substr(8), shard.file_size, shard.file_name);
    EXPECT_EQ(parsed.metadata, metadata);
    ASSERT_EQ(parsed.tensors.size(), shard.tensors.size());
    for (size_t i : shard.tensors) {
      const TensorInfo* info = parsed.find(tensors[i].name);
      ASSERT_NE(info, nullptr) << tensors[i].name;
      EXPECT_EQ(info->dtype, tensors[i].out_dtype) << tensors[i].name;
      EXPECT_EQ(info->shape, tensors[i].shape) << tensors[i].name;
      EXPECT_EQ(parsed.data_start() + info->begin, layout.file_offset[i]) << tensors[i].name;
      EXPECT_EQ(info->nbytes(), tensors[i].out_bytes()) << tensors[i].name;
    }
  }
  EXPECT_EQ(total, 366u);
  EXPECT_EQ(layout.total_tensor_bytes, 366u);
}

// ---- make_work_units ---------------------------------------------------------------

TEST(WorkUnits, HandCountedSplit) {
  PlanSourcePool pool;
  // Widest of BF16, BF16 inputs and the F32 output is 4 bytes: 16-byte chunk = 4 elements.
  const std::vector<PlannedTensor> tensors = {
      pool.tensor("w", {10}, DType::F32, {DType::BF16, DType::BF16})};
  const std::vector<WorkUnit> units = make_work_units(tensors, 16);
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[0].first, 0u);
  EXPECT_EQ(units[0].count, 4u);
  EXPECT_EQ(units[1].first, 4u);
  EXPECT_EQ(units[1].count, 4u);
  EXPECT_EQ(units[2].first, 8u);
  EXPECT_EQ(units[2].count, 2u);
  // Two 2-byte reads and one 4-byte write per element.
  EXPECT_EQ(unit_read_bytes(units[0], tensors[0]), 16u);
  EXPECT_EQ(unit_cost(units[0], tensors[0]), 32u);
  EXPECT_EQ(unit_cost(units[2], tensors[0]), 16u);
}

TEST(WorkUnits, CoverEveryElementOnceInOrderWithinTheChunk) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {
      pool.tensor("mixed", {1000}, DType::F32, {DType::BF16, DType::F32, DType::F16}),
      pool.tensor("one", {1}, DType::BF16, {DType::BF16, DType::BF16}),
      pool.tensor("empty", {0, 8}, DType::F32, {DType::F32, DType::F32}),
      pool.tensor("ids", {3, 100}, DType::I64, {DType::I64, DType::I64}, TensorAction::CopyReference),
      pool.tensor("f64", {513}, DType::F64, {DType::F64}),
      pool.tensor("tail", {64}, DType::BF16, {DType::F64, DType::BF16}),
  };
  for (const uint64_t chunk : {8ull, 64ull, 256ull, 1000ull, 4096ull, 1ull << 20}) {
    const std::vector<WorkUnit> units = make_work_units(tensors, chunk);
    std::vector<uint64_t> covered(tensors.size(), 0);
    std::vector<uint64_t> unit_count(tensors.size(), 0);
    uint32_t last_tensor = 0;
    for (const WorkUnit& u : units) {
      ASSERT_LT(u.tensor, tensors.size());
      const PlannedTensor& t = tensors[u.tensor];
      EXPECT_GE(u.tensor, last_tensor) << "units out of tensor order, chunk " << chunk;
      last_tensor = u.tensor;
      EXPECT_GT(u.count, 0u) << t.name;
      // Next range of the tensor, starting where the previous one ended.
      EXPECT_EQ(u.first, covered[u.tensor]) << t.name << " chunk " << chunk;
      covered[u.tensor] = u.first + u.count;
      ++unit_count[u.tensor];
      for (const TensorSource& s : t.sources)
        EXPECT_LE(u.count * dtype_size(s.tensor->info.dtype), chunk) << t.name << " chunk " << chunk;
      EXPECT_LE(u.count * dtype_size(t.out_dtype), chunk) << t.name << " chunk " << chunk;
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_EQ(covered[i], tensors[i].numel) << tensors[i].name << " chunk " << chunk;
      // Units are as large as the chunk allows: ceil(numel / (chunk / widest)).
      const uint64_t step = unit_elements(tensors[i], chunk);
      EXPECT_EQ(unit_count[i], (tensors[i].numel + step - 1) / step)
          << tensors[i].name << " chunk " << chunk;
    }
    EXPECT_EQ(unit_count[2], 0u) << "zero-numel tensor produced units, chunk " << chunk;
  }
  // Widest element decides: F64 input (8 bytes) with a BF16 output, 64-byte chunk = 8 elements.
  EXPECT_EQ(unit_elements(tensors[5], 64), 8u);
  EXPECT_EQ(unit_elements(tensors[0], 1000), 250u);
}

TEST(WorkUnits, ZeroNumelTensorsGiveNoUnits) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {
      pool.tensor("e0", {0}, DType::F32, {DType::F32}),
      pool.tensor("w", {5}, DType::F32, {DType::F32}),
      pool.tensor("e1", {4, 0, 2}, DType::BF16, {DType::BF16}),
      pool.tensor("s", {}, DType::F32, {DType::F32}),  // rank 0: one element
  };
  const std::vector<WorkUnit> units = make_work_units(tensors, 1024);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].tensor, 1u);
  EXPECT_EQ(units[0].count, 5u);
  EXPECT_EQ(units[1].tensor, 3u);
  EXPECT_EQ(units[1].first, 0u);
  EXPECT_EQ(units[1].count, 1u);

  const std::vector<PlannedTensor> only_empty = {pool.tensor("e", {0, 3}, DType::F32, {DType::F32})};
  EXPECT_TRUE(make_work_units(only_empty, 1024).empty());
}

// ---- assign_units -------------------------------------------------------------------

TEST(AssignUnits, OneRankTakesEverything) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {pool.tensor("w", {100}, DType::F32, {DType::F32})};
  const std::vector<WorkUnit> units = make_work_units(tensors, 40);
  ASSERT_EQ(units.size(), 10u);
  EXPECT_EQ(assign_units(units, tensors, 1), (std::vector<size_t>{0, 10}));
}

TEST(AssignUnits, EqualUnitsSplitEvenly) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {pool.tensor("w", {120}, DType::F32, {DType::F32})};
  const std::vector<WorkUnit> units = make_work_units(tensors, 4);  // 120 one-element units
  ASSERT_EQ(units.size(), 120u);
  EXPECT_EQ(assign_units(units, tensors, 4), (std::vector<size_t>{0, 30, 60, 90, 120}));
  EXPECT_EQ(assign_units(units, tensors, 3), (std::vector<size_t>{0, 40, 80, 120}));
}

TEST(AssignUnits, ContiguousCoverAndDeterministicForRanks1To16) {
  PlanSourcePool pool;
  // Units of very different costs: big F32 merges, small norms, integer copies.
  const std::vector<PlannedTensor> tensors = {
      pool.tensor("embed", {5000, 64}, DType::F32, {DType::BF16, DType::F32, DType::F16}),
      pool.tensor("norm", {64}, DType::BF16, {DType::BF16, DType::BF16, DType::BF16}),
      pool.tensor("ids", {777}, DType::I64, {DType::I64, DType::I64, DType::I64}, TensorAction::CopyReference),
      pool.tensor("proj", {64, 3001}, DType::F16, {DType::BF16, DType::F32, DType::F16}),
  };
  const std::vector<WorkUnit> units = make_work_units(tensors, 4096);
  ASSERT_GT(units.size(), 100u);
  for (int ranks = 1; ranks <= 16; ++ranks) {
    const std::vector<size_t> bounds = assign_units(units, tensors, ranks);
    expect_contiguous_cover(bounds, units.size(), ranks);
    EXPECT_EQ(assign_units(units, tensors, ranks), bounds) << "ranks " << ranks;
  }
}

TEST(AssignUnits, LlamaLikeCostWithinTenPercentOfMeanForRanks1To16) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = llama_7b_like(pool);
  const std::vector<WorkUnit> units = make_work_units(tensors, 1ull << 20);
  ASSERT_GT(units.size(), 10000u);

  uint64_t total = 0, biggest = 0;
  for (const WorkUnit& u : units) {
    const uint64_t c = unit_cost(u, tensors[u.tensor]);
    total += c;
    biggest = std::max(biggest, c);
  }
  // 2 reads + 1 write of BF16 per element of ~6.7e9 parameters.
  uint64_t numel = 0;
  for (const PlannedTensor& t : tensors) numel += t.numel;
  EXPECT_EQ(total, numel * 6);

  for (int ranks = 1; ranks <= 16; ++ranks) {
    const std::vector<size_t> bounds = assign_units(units, tensors, ranks);
    expect_contiguous_cover(bounds, units.size(), ranks);
    const std::vector<uint64_t> costs = rank_costs(units, tensors, bounds);
    EXPECT_EQ(std::accumulate(costs.begin(), costs.end(), uint64_t{0}), total);
    const double mean = static_cast<double>(total) / ranks;
    for (int r = 0; r < ranks; ++r) {
      EXPECT_LE(static_cast<double>(costs[r]), 1.1 * mean) << "rank " << r << " of " << ranks;
      // The documented guarantee: within one unit of the mean.
      EXPECT_LE(static_cast<double>(costs[r]), mean + static_cast<double>(biggest))
          << "rank " << r << " of " << ranks;
      EXPECT_GT(costs[r], 0u) << "rank " << r << " of " << ranks << " has no work";
    }
  }
}

TEST(AssignUnits, MoreRanksThanUnitsGivesNoRankMoreThanOneUnit) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {pool.tensor("w", {3}, DType::F32, {DType::F32})};
  const std::vector<WorkUnit> units = make_work_units(tensors, 4);
  ASSERT_EQ(units.size(), 3u);
  const std::vector<size_t> bounds = assign_units(units, tensors, 8);
  expect_contiguous_cover(bounds, 3, 8);
  int busy = 0;
  for (int r = 0; r < 8; ++r) {
    EXPECT_LE(bounds[r + 1] - bounds[r], 1u) << "rank " << r;
    busy += bounds[r + 1] > bounds[r];
  }
  EXPECT_EQ(busy, 3);
}

// Rank 0 reports progress, so with fewer units than ranks it must get work.
TEST(AssignUnits, MoreRanksThanUnitsLeavesTrailingRanksEmpty) {
  PlanSourcePool pool;
  const std::vector<PlannedTensor> tensors = {pool.tensor("w", {3}, DType::F32, {DType::F32})};
  const std::vector<WorkUnit> units = make_work_units(tensors, 4);
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(assign_units(units, tensors, 8), (std::vector<size_t>{0, 1, 2, 3, 3, 3, 3, 3, 3}));

  const std::vector<WorkUnit> one(units.begin(), units.begin() + 1);
  EXPECT_EQ(assign_units(one, tensors, 4), (std::vector<size_t>{0, 1, 1, 1, 1}));
}

TEST(AssignUnits, NoUnitsLeavesEveryRankEmpty) {
  EXPECT_EQ(assign_units({}, {}, 4), (std::vector<size_t>{0, 0, 0, 0, 0}));
}

// ---- plan_tensors on real checkpoint files ------------------------------------------

struct HandTensor {
  std::string name;
  std::string dtype;  // safetensors name
  std::vector<uint64_t> shape;
};

static uint64_t hand_dtype_size(const std::string& dtype) {
  static const std::map<std::string, uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2},     {"I32", 4},  {"I64", 8},
      {"F16", 2},  {"BF16", 2}, {"F32", 4}, {"F64", 8},     {"F8_E8M0", 1}, {"C64", 8},
      {"F8_E4M3", 1}};
  return sizes.at(dtype);
}

class PlanTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "cocktail_plan_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A safetensors file written by hand: 8-byte LE length, JSON header with
  // keys in reverse order (offsets follow the given order), zero data.
  fs::path write_model(const std::string& name, const std::vector<HandTensor>& tensors) {
    std::vector<std::string> entries;
    uint64_t offset = 0;
    for (const HandTensor& t : tensors) {
      uint64_t numel = 1;
      std::string shape;
      for (size_t i = 0; i < t.shape.size(); ++i) {
        numel *= t.shape[i];
        shape += (i ? "," : "") + std::to_string(t.shape[i]);
      }
      const uint64_t bytes = numel * hand_dtype_size(t.dtype);
      entries.push_back("\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + shape +
                        "],\"data_offsets\":[" + std::to_string(offset) + "," +
                        std::to_string(offset + bytes) + "]}");
      offset += bytes;
    }
    std::string json = "{";
    for (size_t i = entries.size(); i-- > 0;) json += entries[i] + (i ? "," : "");
    json += "}";
    std::string prefix(8, '\0');
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
    const fs::path path = dir_ / (name + ".safetensors");
    std::ofstream out(path, std::ios::binary);
    const std::string bytes = prefix + json + std::string(offset, '\0');
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  Checkpoint model(const std::string& name, const std::vector<HandTensor>& tensors) {
    return Checkpoint::open(write_model(name, tensors));
  }

  // plan_tensors must throw a cocktail::Error whose message holds every part.
  static void expect_plan_error(const std::vector<Checkpoint>& models, size_t reference,
                                const std::vector<size_t>& summed,
                                const std::vector<std::string>& parts) {
    try {
      plan_tensors(models, reference, summed, std::nullopt);
      ADD_FAILURE() << "planned, expected an error naming " << parts.front();
    } catch (const Error& e) {
      for (const std::string& part : parts)
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
            << "missing '" << part << "' in: " << e.what();
    }
  }

  std::string path_of(const std::string& name) const {
    return (dir_ / (name + ".safetensors")).string();
  }

  fs::path dir_;
};

TEST_F(PlanTensorsTest, FloatTensorsMergeWithOutDtypeOverride) {
  std::vector<Checkpoint> models;
  // Offset order w, b, ids, n (not alphabetical); the other models list them differently.
  models.push_back(model("base", {{"w", "F16", {2, 3}}, {"b", "BF16", {3}},
                                  {"ids", "I64", {4}}, {"n", "F16", {}}}));
  models.push_back(model("m1", {{"ids", "I64", {4}}, {"n", "F16", {}}, {"b", "BF16", {3}},
                                {"w", "F16", {2, 3}}}));
  models.push_back(model("m2", {{"b", "BF16", {3}}, {"w", "F16", {2, 3}}, {"n", "F16", {}},
                                {"ids", "I64", {4}}}));

  const std::vector<PlannedTensor> plan = plan_tensors(models, 0, {0, 1, 2}, DType::F32);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].name, "w");
  EXPECT_EQ(plan[1].name, "b");
  EXPECT_EQ(plan[2].name, "ids");
  EXPECT_EQ(plan[3].name, "n");

  for (size_t k : {0u, 1u, 3u}) {
    const PlannedTensor& t = plan[k];
    EXPECT_EQ(t.action, TensorAction::Merge) << t.name;
    EXPECT_EQ(t.out_dtype, DType::F32) << t.name;
    ASSERT_EQ(t.sources.size(), 3u) << t.name;
    for (size_t m = 0; m < 3; ++m) {
      EXPECT_EQ(t.sources[m].model, m) << t.name;
      EXPECT_EQ(t.sources[m].tensor, models[m].find(t.name)) << t.name;
    }
  }
  EXPECT_EQ(plan[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(plan[0].numel, 6u);
  EXPECT_EQ(plan[0].out_bytes(), 24u);
  EXPECT_EQ(plan[3].shape, std::vector<uint64_t>{});
  EXPECT_EQ(plan[3].numel, 1u);
  // The override is for floats only: integers keep their dtype.
  EXPECT_EQ(plan[2].action, TensorAction::CopyReference);
  EXPECT_EQ(plan[2].out_dtype, DType::I64);

  // Without an override the reference dtype is kept.
  const std::vector<PlannedTensor> same = plan_tensors(models, 0, {0, 1, 2}, std::nullopt);
  EXPECT_EQ(same[0].out_dtype, DType::F16);
  EXPECT_EQ(same[1].out_dtype, DType::BF16);
}

TEST_F(PlanTensorsTest, MergeSourcesAreTheSummedModelsInRecipeOrder) {
  std::vector<Checkpoint> models;
  for (const char* name : {"base", "m1", "m2"}) models.push_back(model(name, {{"w", "F32", {4}}}));
  // The base supplies config only; the recipe sums m2 then m1.
  const std::vector<PlannedTensor> plan = plan_tensors(models, 0, {2, 1}, std::nullopt);
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_EQ(plan[0].sources.size(), 2u);
  EXPECT_EQ(plan[0].sources[0].model, 2u);
  EXPECT_EQ(plan[0].sources[0].tensor, models[2].find("w"));
  EXPECT_EQ(plan[0].sources[1].model, 1u);
  EXPECT_EQ(plan[0].sources[1].tensor, models[1].find("w"));
}

TEST_F(PlanTensorsTest, IntegerTensorsCopyReferenceWithReferenceFirst) {
  std::vector<Checkpoint> models;
  models.push_back(model("a", {{"w", "F32", {2}}, {"ids", "I64", {1, 7}}, {"mask", "BOOL", {5}}}));
  models.push_back(model("ref", {{"mask", "BOOL", {5}}, {"ids", "I64", {1, 7}}, {"w", "F32", {2}}}));
  models.push_back(model("c", {{"w", "F32", {2}}, {"mask", "BOOL", {5}}, {"ids", "I64", {1, 7}}}));

  const std::vector<PlannedTensor> plan = plan_tensors(models, 1, {0, 1, 2}, DType::F16);
  ASSERT_EQ(plan.size(), 3u);
  // The reference's order.
  EXPECT_EQ(plan[0].name, "mask");
  EXPECT_EQ(plan[1].name, "ids");
  EXPECT_EQ(plan[2].name, "w");

  for (size_t k : {0u, 1u}) {
    const PlannedTensor& t = plan[k];
    EXPECT_EQ(t.action, TensorAction::CopyReference) << t.name;
    ASSERT_EQ(t.sources.size(), 3u) << t.name;
    EXPECT_EQ(t.sources[0].model, 1u) << t.name;
    EXPECT_EQ(t.sources[1].model, 0u) << t.name;
    EXPECT_EQ(t.sources[2].model, 2u) << t.name;
    for (const TensorSource& s : t.sources)
      EXPECT_EQ(s.tensor, models[s.model].find(t.name)) << t.name;
  }
  EXPECT_EQ(plan[0].out_dtype, DType::BOOL);
  EXPECT_EQ(plan[1].out_dtype, DType::I64);
  EXPECT_EQ(plan[1].numel, 7u);
  EXPECT_EQ(plan[2].action, TensorAction::Merge);
  EXPECT_EQ(plan[2].out_dtype, DType::F16);
}

TEST_F(PlanTensorsTest, MixedFloatDtypesAcrossModelsAreMerged) {
  std::vector<Checkpoint> models;
  models.push_back(model("bf16", {{"w", "BF16", {4, 2}}}));
  models.push_back(model("f16", {{"w", "F16", {4, 2}}}));
  models.push_back(model("f32", {{"w", "F32", {4, 2}}}));
  models.push_back(model("f64", {{"w", "F64", {4, 2}}}));

  const std::vector<PlannedTensor> plan = plan_tensors(models, 0, {0, 1, 2, 3}, std::nullopt);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].action, TensorAction::Merge);
  EXPECT_EQ(plan[0].out_dtype, DType::BF16);  // the reference's
  ASSERT_EQ(plan[0].sources.size(), 4u);
  EXPECT_EQ(plan[0].sources[0].tensor->info.dtype, DType::BF16);
  EXPECT_EQ(plan[0].sources[1].tensor->info.dtype, DType::F16);
  EXPECT_EQ(plan[0].sources[2].tensor->info.dtype, DType::F32);
  EXPECT_EQ(plan[0].sources[3].tensor->info.dtype, DType::F64);
}

TEST_F(PlanTensorsTest, TensorMissingFromAnotherModel) {
  std::vector<Checkpoint> models;
  models.push_back(model("base", {{"w", "F32", {2}}, {"lm_head.weight", "F32", {3}}}));
  models.push_back(model("other", {{"w", "F32", {2}}}));
  expect_plan_error(models, 0, {0, 1}, {"lm_head.weight", path_of("other")});
}

TEST_F(PlanTensorsTest, TensorMissingFromReference) {
  std::vector<Checkpoint> models;
  models.push_back(model("base", {{"w", "F32", {2}}}));
  models.push_back(model("other", {{"w", "F32", {2}}, {"extra.bias", "F32", {3}}}));
  expect_plan_error(models, 0, {0, 1}, {"extra.bias", path_of("other"), path_of("base")});
}

TEST_F(PlanTensorsTest, ShapeMismatch) {
  std::vector<Checkpoint> models;
  models.push_back(model("base", {{"proj.weight", "F32", {2, 3}}}));
  models.push_back(model("other", {{"proj.weight", "F32", {3, 2}}}));
  expect_plan_error(models, 0, {0, 1}, {"proj.weight", "[3, 2]", "[2, 3]", path_of("other")});
}

TEST_F(PlanTensorsTest, IntegerWhereOtherModelsHoldFloats) {
  {
    std::vector<Checkpoint> models;
    models.push_back(model("base", {{"w", "F32", {4}}}));
    models.push_back(model("ints", {{"w", "I32", {4}}}));
    expect_plan_error(models, 0, {0, 1}, {"'w'", "I32", path_of("ints")});
  }
  {
    // The reference holds the integer.
    std::vector<Checkpoint> models;
    models.push_back(model("base2", {{"v", "I64", {4}}}));
    models.push_back(model("floats", {{"v", "F16", {4}}}));
    expect_plan_error(models, 0, {0, 1}, {"'v'", "I64", path_of("base2")});
  }
}

TEST_F(PlanTensorsTest, DifferentIntegerDtypes) {
  std::vector<Checkpoint> models;
  models.push_back(model("base", {{"position_ids", "I64", {6}}}));
  models.push_back(model("other", {{"position_ids", "I32", {6}}}));
  expect_plan_error(models, 0, {0, 1}, {"position_ids", "I32", "I64", path_of("other")});
}

TEST_F(PlanTensorsTest, NonMergeableFloatDtypes) {
  {
    std::vector<Checkpoint> models;
    models.push_back(model("base", {{"scales", "F16", {8}}}));
    models.push_back(model("mx", {{"scales", "F8_E8M0", {8}}}));
    expect_plan_error(models, 0, {0, 1}, {"scales", "F8_E8M0", path_of("mx")});
  }
  {
    std::vector<Checkpoint> models;
    models.push_back(model("c1", {{"freqs", "C64", {2}}}));
    models.push_back(model("c2", {{"freqs", "C64", {2}}}));
    expect_plan_error(models, 0, {0, 1}, {"freqs", "C64"});
  }
}

TEST_F(PlanTensorsTest, MergePlanReadBytesAndRankCosts) {
  std::vector<Checkpoint> models;
  models.push_back(model("base", {{"w", "BF16", {1000}}, {"ids", "I64", {10}}}));
  models.push_back(model("other", {{"w", "F32", {1000}}, {"ids", "I64", {10}}}));
  PlanOptions options;
  options.summed = {0, 1};
  options.out_dtype = DType::F32;
  options.chunk_size = 400;  // 100 elements per unit (F32 is the widest)
  options.ranks = 3;
  options.metadata = {{"format", "pt"}};
  const MergePlan plan = make_merge_plan(models, options);
  ASSERT_EQ(plan.tensors.size(), 2u);
  EXPECT_EQ(plan.units.size(), 11u);  // 10 for w, 1 for ids
  ASSERT_EQ(plan.layout.shards.size(), 1u);
  EXPECT_EQ(plan.layout.shards[0].file_name, "model.safetensors");
  EXPECT_EQ(plan.layout.total_tensor_bytes, 4000u + 80u);
  // w: 2000 + 4000 bytes read; ids: 80 from each model.
  EXPECT_EQ(plan.total_read_bytes(), 6000u + 160u);
  uint64_t read = 0, cost = 0;
  for (int r = 0; r < 3; ++r) {
    read += plan.rank_read_bytes(r);
    cost += plan.rank_cost(r);
  }
  EXPECT_EQ(read, plan.total_read_bytes());
  EXPECT_EQ(cost, plan.total_read_bytes() + plan.layout.total_tensor_bytes);
}
