#pragma once
// A validated merge job, read from YAML. Keys follow mergekit's names where
// mergekit has one (merge_method, base_model, models[].model,
// models[].parameters.weight, parameters, dtype, out_dtype); docs/config.md
// lists every key.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/setting.hpp"
#include "core/dtype.hpp"
#include "fewshot/loss_reduction.hpp"
#include "search/search_settings.hpp"

namespace cocktail {

// Linear and LmCocktail are read here; every other name is a method of
// src/merge/methods/, whose parameters the parser keeps as written.
enum class MergeMethod { Linear, LmCocktail, Registered };
enum class ModelRole { Base, Target, Peer };
// auto: the rank's GPU when one is usable, else the CPU with a warning.
enum class DeviceChoice { Auto, Cpu, Cuda };
// What the output is written as; auto: as the reference model is stored
// (a Keras .weights.h5 save gives a Keras save, else safetensors).
enum class OutputChoice { Auto, Safetensors, Keras };

struct ModelSpec {
  std::filesystem::path path;     // absolute (relative paths resolve against the config's folder)
  ModelRole role = ModelRole::Peer;
  std::optional<double> weight;   // linear: per-model weight (or the global default)
  int line = 0;                   // 1-based line in the config, for messages
  Settings parameters;            // Registered: models[].parameters as written
  // A PEFT LoRA adapter applied to `path` (mergekit's "PATH+ADAPTER", or the
  // entry's `lora` key); empty for a plain checkpoint.
  std::filesystem::path adapter;
  std::string name() const;        // "PATH" or "PATH+ADAPTER"
  std::string short_name() const;  // the folder names: "base" or "base+adapter"
};

// mergekit's slices: the output's layer stack, slice after slice, each
// layer merged from the same layer offset of every source's range.
struct SliceSource {
  size_t model = 0;      // index into Job::models
  long begin = 0, end = 0;  // layer_range [begin, end)
  Settings parameters;   // as written; before the slice's and the top-level ones
  std::string where;     // "FILE:LINE: key 'slices[i].sources[j].layer_range'"
};

struct Slice {
  std::vector<SliceSource> sources;
  Settings parameters;  // before the top-level ones
  std::string where;    // "FILE:LINE: key 'slices[i]'"
};

// mergekit's tokenizer_source / tokenizer block: which vocabulary the output
// has and where the embedding row of each of its tokens comes from (vocab/).
struct TokenEmbedding {
  enum class Kind {
    Model,       // the row of this token in `model`
    ModelToken,  // the row of another token of `model`, by id or text
    Zero,
  };
  Kind kind = Kind::Model;
  size_t model = 0;            // index into Job::models
  std::optional<int64_t> token_id;
  std::string token;           // ModelToken without token_id
  bool has_source = false;     // else the default rule (a token that is not in the vocabulary is added)
  bool force = false;          // even where a model has the token
  std::string where;           // "FILE:LINE: key 'tokenizer.tokens.X'"
};

struct TokenizerChoice {
  enum class Source { Base, Union, Model };
  Source source = Source::Union;
  size_t model = 0;  // Source::Model: index into Job::models
  std::vector<std::pair<std::string, TokenEmbedding>> tokens;  // in file order
  uint64_t pad_to_multiple_of = 0;  // 0: no padding rows
  std::string where;                // "FILE:LINE: key 'tokenizer_source'"
};

// LM-Cocktail's weights from few-shot examples (paper section 2).
struct FewShot {
  std::vector<std::filesystem::path> files;  // pooled in order
  double temperature = 5.0;                  // the authors' signature default
  int batch_size = 2;
  int max_input_length = 2048;
  int neg_number = 7;                        // encoder negatives per query
  uint64_t seed = 0;                         // negative sampling
  LossReduction reduction = LossReduction::Upstream;
  WeightChoice weights = WeightChoice::Softmax;
  SearchSettings search;
  // The last ceil(held_out * batches) batches are not used to choose the
  // weights; their loss is reported beside (0: none held out).
  double held_out = 0;
  // Candidate tensors kept between evaluations of merged models (search,
  // soup): in the GPU's memory when the forward runs on one (gpu_cache),
  // then in host memory (cache); 0 and 0 re-read them every time.
  uint64_t cache_bytes = 0, gpu_cache_bytes = 0;
  // How the ranks share an evaluation of a merged decoder: true, as pipeline
  // stages (each rank holds a contiguous run of layers, the hidden states
  // pass from rank to rank); false, each rank streams every layer for its
  // share of the batches; unset (auto), stages when more than one rank runs
  // and the caches could not hold every candidate on each rank.
  std::optional<bool> pipeline;
};

struct Job {
  std::filesystem::path config_path;
  MergeMethod method = MergeMethod::Linear;
  std::string method_name = "linear";  // as written
  std::string method_where;            // "FILE:LINE: key 'merge_method'", for messages
  Settings parameters;                 // Registered: the top-level parameters as written
  uint64_t random_seed = 0;            // Registered: seeds the random masks (dare, della)
  // Order: base first (when given), then target (when given), then the
  // `models` list in file order. Paths are unique.
  std::vector<ModelSpec> models;
  // Registered methods: empty, or mergekit's slices (then `models` holds the
  // base, if any, and every model of the slices once, in order of appearance).
  std::vector<Slice> slices;
  bool normalize = true;            // linear: divide by the sum of weights
  // lm_cocktail: alpha * target + (1 - alpha) * (base, or the example-weighted
  // candidates when `fewshot` is set)
  double alpha = 0.5;
  // lm_cocktail with examples: candidates are the base (when given) and the
  // peers under `models`; their weights come from their losses.
  std::optional<FewShot> fewshot;
  // Models with different vocabularies: the output's (mergekit's semantics).
  std::optional<TokenizerChoice> tokenizer;
  std::optional<DType> out_dtype;   // out_dtype, else dtype, else the reference model's
  std::filesystem::path output;     // absolute
  uint64_t max_shard_size = 5'000'000'000;
  OutputChoice output_format = OutputChoice::Auto;
  // Bytes of one input range per work unit. 1 MiB keeps a unit's inputs and
  // output inside L2 between pread, kernel and pwrite (docs/performance.md).
  uint64_t chunk_size = 1ull << 20;
  int threads = 0;                  // compute threads per rank; 0 = bound cores, else cores / ranks on the node
  int io_threads = 2;               // reader/writer threads per rank (docs/performance.md)
  int prefetch = 2;                 // work units read ahead of the one being computed
  bool direct_writes = true;        // output's aligned windows with O_DIRECT (io/output_file.hpp)
  DeviceChoice device = DeviceChoice::Auto;  // where the merge arithmetic runs
  double progress_interval = 5.0;   // seconds between progress lines; 0 = off

  // Base if given, else the first model: supplies config.json, tokenizer files
  // and integer tensors.
  size_t reference_index() const { return 0; }
  bool has_target() const;
  // Indices into `models` of the few-shot candidates (base and peers), in order.
  std::vector<size_t> candidates() const;
};

// Sets the per-model parameter `name` of job.models[models[i]] to values[i],
// replacing any written one: how chosen weights (and searched densities)
// reach a method of src/merge/methods/. `why` starts each value's message.
void set_candidate_parameters(Job& job, const std::vector<size_t>& models, const std::string& name,
                              const std::vector<double>& values, const std::string& why);

// `job` with candidate i's `weight` set to weights[i] and, when `density`
// is not empty, its `density` to density[i]: one recipe of a search.
Job with_candidate_recipe(const Job& job, const std::vector<size_t>& candidates, const std::vector<double>& weights,
                          const std::vector<double>& density);

// Throws cocktail::Error "FILE:LINE: key 'k': problem" for unknown keys, wrong
// types, missing paths, weights that do not match the models, bad alpha.
Job load_job(const std::filesystem::path& config_file);

// "5G", "500M", "4096", "2GiB": K/M/G (and KB/MB/GB) are powers of 1000 as in
// Hugging Face; KiB/MiB/GiB powers of 1024. Throws std::invalid_argument.
uint64_t parse_byte_size(const std::string& text);

}  // namespace cocktail
