// cocktail_synth: writes a synthetic Llama-shaped Hugging Face checkpoint
// (config.json, generation_config.json, sharded safetensors) with
// deterministic pseudo-random weights. The demo and the benchmarks generate
// their models with it, so no model weights live in the repository.
//
//   cocktail_synth OUT_DIR [--size 2G | --layers N] [--hidden H] [--intermediate I]
//                  [--vocab V] [--heads A] [--kv-heads K] [--dtype bfloat16]
//                  [--seed S] [--max-shard-size 5G]
//                  [--preset llama3-8b|llama3-70b|llama3-405b] [--sparse]
//
// With --size the shape is TinyLlama's (hidden 2048, intermediate 5632,
// vocab 32000, 32 heads, 4 KV heads) where an option does not say otherwise,
// and the layer count is chosen to reach the size. --preset gives Llama 3's
// shapes (tensor names and shapes as Hugging Face's checkpoints have them;
// shards cut greedily at --max-shard-size, which is close to but not the
// exact cut of Meta's uploads). --sparse writes only the headers and leaves
// the data as holes, read back as zeros at memory speed: a 10 x 70B job at
// full shape on a disk that could not hold one real 70B checkpoint.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/job.hpp"
#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "element_math.hpp"
#include "io/file.hpp"
#include "io/output_folder.hpp"
#include "io/safetensors_writer.hpp"
#include "plan/output_layout.hpp"

namespace fs = std::filesystem;
using namespace cocktail;

namespace {

struct Shape {
  int layers = 2, hidden = 64, intermediate = 172, vocab = 256, heads = 4, kv_heads = 2;
};

struct Options {
  fs::path out;
  Shape shape;
  uint64_t size = 0;  // when set, layers are chosen to reach this many bytes
  DType dtype = DType::BF16;
  uint64_t seed = 1;
  uint64_t max_shard_size = 5'000'000'000;
  bool sparse = false;
  bool llama3 = false;  // Llama 3's vocabulary, RoPE and special token ids in config.json
};

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::vector<PlannedTensor> llama_tensors(const Shape& s, DType dtype) {
  std::vector<PlannedTensor> tensors;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape) {
    PlannedTensor t;
    t.name = name;
    t.shape = shape;
    t.numel = 1;
    for (auto d : shape) t.numel *= d;
    t.out_dtype = dtype;
    tensors.push_back(std::move(t));
  };
  const uint64_t h = s.hidden, kv = h / s.heads * s.kv_heads;
  add("model.embed_tokens.weight", {static_cast<uint64_t>(s.vocab), h});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {h});
    add(p + "self_attn.q_proj.weight", {h, h});
    add(p + "self_attn.k_proj.weight", {kv, h});
    add(p + "self_attn.v_proj.weight", {kv, h});
    add(p + "self_attn.o_proj.weight", {h, h});
    add(p + "post_attention_layernorm.weight", {h});
    add(p + "mlp.gate_proj.weight", {static_cast<uint64_t>(s.intermediate), h});
    add(p + "mlp.up_proj.weight", {static_cast<uint64_t>(s.intermediate), h});
    add(p + "mlp.down_proj.weight", {h, static_cast<uint64_t>(s.intermediate)});
  }
  add("model.norm.weight", {h});
  add("lm_head.weight", {static_cast<uint64_t>(s.vocab), h});
  return tensors;
}

uint64_t total_bytes(const std::vector<PlannedTensor>& tensors) {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.out_bytes();
  return n;
}

// Fills elements [first, first + count) of tensor `index`: small uniform
// values (norm weights near 1), a function of (seed, tensor, element) only.
void fill(std::byte* dst, const PlannedTensor& t, size_t index, uint64_t first, uint64_t count,
          uint64_t seed) {
  const bool norm = t.shape.size() == 1;
  const uint64_t key = splitmix64(seed * 1000003 + index);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t r = splitmix64(key ^ (first + i));
    const float u = static_cast<float>(r >> 40) / static_cast<float>(1ull << 24) - 0.5f;
    store_from_f32(dst, t.out_dtype, i, norm ? 1.0f + 0.1f * u : 0.04f * u);
  }
}

void write_checkpoint(const Options& o, const std::vector<PlannedTensor>& tensors) {
  const OutputLayout layout = make_output_layout(tensors, o.max_shard_size, {{"format", "pt"}});
  fs::create_directories(o.out);
  constexpr uint64_t kBlock = 1 << 22;  // elements per write
  std::vector<std::byte> buffer(kBlock * dtype_size(o.dtype));
  for (const auto& shard : layout.shards) {
    File file((o.out / shard.file_name).string(), File::Mode::CreateReadWrite);
    file.truncate(0);
    file.pwrite_full(shard.header.data(), shard.header.size(), 0);
    if (o.sparse) {
      file.truncate(shard.file_size);  // holes: zeros, no blocks
      continue;
    }
    for (size_t i : shard.tensors) {
      const PlannedTensor& t = tensors[i];
      for (uint64_t first = 0; first < t.numel; first += kBlock) {
        const uint64_t n = std::min(kBlock, t.numel - first);
        fill(buffer.data(), t, i, first, n, o.seed);
        file.pwrite_full(buffer.data(), n * dtype_size(t.out_dtype),
                         layout.file_offset[i] + first * dtype_size(t.out_dtype));
      }
    }
  }
  if (layout.shards.size() > 1) {
    std::map<std::string, std::string> weight_map;
    for (const auto& shard : layout.shards)
      for (size_t t : shard.tensors) weight_map[tensors[t].name] = shard.file_name;
    write_staged_file(o.out, "model.safetensors.index.json",
                      encode_shard_index(layout.total_tensor_bytes, weight_map));
  }
  const Shape& s = o.shape;
  nlohmann::ordered_json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
      {"hidden_size", s.hidden}, {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads}, {"vocab_size", s.vocab},
      {"max_position_embeddings", o.llama3 ? 8192 : 2048}, {"rms_norm_eps", 1e-5},
      {"rope_theta", o.llama3 ? 500000.0 : 10000.0}, {"hidden_act", "silu"}, {"tie_word_embeddings", false},
      {"bos_token_id", o.llama3 ? 128000 : 1}, {"eos_token_id", o.llama3 ? 128001 : 2},
      {"torch_dtype", std::string(torch_name(o.dtype))}};
  write_staged_file(o.out, "config.json", config.dump(2) + "\n");
  write_staged_file(o.out, "generation_config.json",
                    nlohmann::ordered_json({{"bos_token_id", 1}, {"eos_token_id", 2}}).dump(2) + "\n");
}

Options parse(int argc, char** argv) {
  Options o;
  // With --size, TinyLlama's shape for what the options do not set.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--size") o.shape = {1, 2048, 5632, 32000, 32, 4};
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw Error(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size") o.size = parse_byte_size(need(i));
    else if (a == "--layers") o.shape.layers = std::stoi(need(i));
    else if (a == "--hidden") o.shape.hidden = std::stoi(need(i));
    else if (a == "--intermediate") o.shape.intermediate = std::stoi(need(i));
    else if (a == "--vocab") o.shape.vocab = std::stoi(need(i));
    else if (a == "--heads") o.shape.heads = std::stoi(need(i));
    else if (a == "--kv-heads") o.shape.kv_heads = std::stoi(need(i));
    else if (a == "--seed") o.seed = std::stoull(need(i));
    else if (a == "--max-shard-size") o.max_shard_size = parse_byte_size(need(i));
    else if (a == "--sparse") o.sparse = true;
    else if (a == "--preset") {
      // Llama 3.x: layers, hidden, intermediate, vocab, heads, KV heads.
      const std::string p = need(i);
      if (p == "llama3-8b") o.shape = {32, 4096, 14336, 128256, 32, 8};
      else if (p == "llama3-70b") o.shape = {80, 8192, 28672, 128256, 64, 8};
      else if (p == "llama3-405b") o.shape = {126, 16384, 53248, 128256, 128, 8};
      else throw Error("unknown --preset " + p + " (llama3-8b, llama3-70b, llama3-405b)");
      o.llama3 = true;
    }
    else if (a == "--dtype") {
      auto d = dtype_from_torch_name(need(i));
      if (!d) throw Error("unknown --dtype");
      o.dtype = *d;
    } else if (a.starts_with("--")) throw Error("unknown option " + a);
    else o.out = a;
  }
  if (o.out.empty()) throw Error("usage: cocktail_synth OUT_DIR [options]");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse(argc, argv);
    if (o.size) {
      // Layers chosen to reach the size.
      o.shape.layers = 1;
      const uint64_t one = total_bytes(llama_tensors(o.shape, o.dtype));
      o.shape.layers = 2;
      const uint64_t two = total_bytes(llama_tensors(o.shape, o.dtype));
      const uint64_t per_layer = two - one, fixed = one - per_layer;
      const uint64_t wanted = o.size > fixed ? o.size - fixed : 0;
      o.shape.layers = static_cast<int>(std::max<uint64_t>(1, (wanted + per_layer / 2) / per_layer));
    }
    const auto tensors = llama_tensors(o.shape, o.dtype);
    write_checkpoint(o, tensors);
    std::cout << o.out.string() << ": " << tensors.size() << " tensors, " << total_bytes(tensors)
              << " bytes\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cocktail_synth: error: " << e.what() << std::endl;
    return 1;
  }
}
