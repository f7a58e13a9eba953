// Every bad input ends the job on every rank with one error line naming the
// culprit, and leaves no output or staging folder behind.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "fixture_models.hpp"
#include "mpi_harness.hpp"

namespace fs = std::filesystem;
using namespace cocktail::test;

namespace {

struct Case {
  std::string name;
  std::function<void(const fs::path& dir)> spoil;  // breaks the good setup
  std::string expect;                              // part of the error line
};

std::vector<FixtureTensor> model(uint64_t seed) {
  return {float_tensor("w.a", "BF16", {64, 33}, values(64 * 33, seed)),
          float_tensor("w.b", "BF16", {100}, values(100, seed + 1))};
}

// A model with `layers` layers of width `hidden` (an embedding of 11 rows).
std::vector<FixtureTensor> layered(int layers, uint64_t hidden) {
  std::vector<FixtureTensor> t = {float_tensor("model.embed_tokens.weight", "BF16", {11, hidden}, values(11 * hidden, 5))};
  for (int l = 0; l < layers; ++l)
    t.push_back(float_tensor("model.layers." + std::to_string(l) + ".mlp.up_proj.weight", "BF16", {hidden, hidden},
                             values(hidden * hidden, 6 + l)));
  return t;
}

void good_setup(const fs::path& dir) {
  auto base = model(1);
  write_safetensors(dir / "base/model-00001-of-00002.safetensors", {base[0]});
  write_safetensors(dir / "base/model-00002-of-00002.safetensors", {base[1]});
  write_file(dir / "base/model.safetensors.index.json",
             R"({"metadata":{"total_size":4424},"weight_map":{"w.a":"model-00001-of-00002.safetensors","w.b":"model-00002-of-00002.safetensors"}})");
  write_safetensors(dir / "ft/model.safetensors", model(2));
  write_file(dir / "job.yaml",
             "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\noutput: out\n"
             "progress_interval: 0\n");
}

std::string with_header(const std::string& json, size_t data_bytes) {
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(static_cast<uint64_t>(json.size()) >> (8 * i));
  return file + json + std::string(data_bytes, '\0');
}

const fs::path kFt = "ft/model.safetensors";

// An lm_cocktail job with few-shot examples of a decoder, base and a peer ft2
// both described by `config`.
void fewshot_job(const fs::path& d, const std::string& config) {
  write_file(d / "base/config.json", config);
  write_file(d / "ft2/config.json", config);
  write_safetensors(d / "ft2/model.safetensors", model(3));
  write_file(d / "ex.jsonl", "{\"input\": \"2+2=\", \"output\": \"4\"}\n");
  write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                             "models:\n  - model: ft2\nexamples: ex.jsonl\noutput: out\n");
}

// A job of a src/merge/methods/ method over base and ft.
void method_job(const fs::path& d, const std::string& method, const std::string& ft_params,
                const std::string& extra = "") {
  write_file(d / "job.yaml", "merge_method: " + method + "\nbase_model: base\nmodels:\n  - model: ft\n"
                             "    parameters: {" + ft_params + "}\noutput: out\n" + extra);
}

// Every path below `dir`, hidden ones included.
std::set<std::string> tree(const fs::path& dir) {
  std::set<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) paths.insert(e.path().string());
  return paths;
}

std::vector<Case> cases() {
  return {
      {"TruncatedFile",
       [](const fs::path& d) { fs::resize_file(d / kFt, fs::file_size(d / kFt) - 10); },
       "ft/model.safetensors"},
      {"CorruptHeader",
       [](const fs::path& d) { write_file(d / kFt, with_header("{\"w.a\": {\"dtype\": ", 0)); },
       "ft/model.safetensors"},
      {"OversizedHeader",
       [](const fs::path& d) {
         std::string f = read_file(d / kFt);
         f[3] = 0x7f;  // header length > 100,000,000
         write_file(d / kFt, f);
       },
       "ft/model.safetensors"},
      {"OffsetsOutOfRange",
       [](const fs::path& d) {
         write_file(d / kFt, with_header(R"({"w.a":{"dtype":"BF16","shape":[64,33],"data_offsets":[0,4224]},"w.b":{"dtype":"BF16","shape":[100],"data_offsets":[4224,4424]}})", 4000));
       },
       "ft/model.safetensors"},
      {"OverlappingOffsets",
       [](const fs::path& d) {
         write_file(d / kFt, with_header(R"({"w.a":{"dtype":"BF16","shape":[64,33],"data_offsets":[0,4224]},"w.b":{"dtype":"BF16","shape":[100],"data_offsets":[4200,4400]}})", 4400));
       },
       "w.b"},
      {"MissingShard",
       [](const fs::path& d) { fs::remove(d / "base/model-00002-of-00002.safetensors"); },
       "model-00002-of-00002.safetensors"},
      {"WeightMapPointsToWrongFile",
       [](const fs::path& d) {
         write_file(d / "base/model.safetensors.index.json",
                    R"({"weight_map":{"w.a":"model-00002-of-00002.safetensors","w.b":"model-00002-of-00002.safetensors"}})");
       },
       "w.a"},
      {"TensorMissingFromOneModel",
       [](const fs::path& d) { write_safetensors(d / kFt, {model(2)[0]}); },
       "tensor 'w.b'"},
      {"ShapeMismatch",
       [](const fs::path& d) {
         write_safetensors(d / kFt, {model(2)[0], float_tensor("w.b", "BF16", {10, 10}, values(100, 3))});
       },
       "tensor 'w.b': shape [10, 10]"},
      {"NonFloatWhereFloatNeeded",
       [](const fs::path& d) {
         write_safetensors(d / kFt, {model(2)[0], FixtureTensor{"w.b", "I16", {100}, std::vector<uint8_t>(200, 0)}});
       },
       "tensor 'w.b': dtype I16"},
      {"UnknownConfigKey",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "output: out\nchunk_sise: 1M\n");
       },
       "chunk_sise"},
      {"OutputInsideInput",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "output: ft/merged\n");
       },
       "inside the input folder"},
      {"OutputParentMissing",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "output: newdir/a/out\n");
       },
       "newdir/a does not exist"},
      {"BrokenConfigJson",
       [](const fs::path& d) { write_file(d / "base/config.json", "{\"model_type\": "); },
       "base/config.json: not valid JSON"},
      // Issue 9: a careless or hostile user.
      {"WeightOverflowsFloat32",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: linear\nmodels:\n  - model: base\n    parameters: {weight: 1e39}\n"
                                    "  - model: ft\n    parameters: {weight: 1}\nparameters: {normalize: false}\n"
                                    "output: out\n");
       },
       "key 'models[0].parameters.weight': must give a weight float32 can hold (magnitude between 1.4e-45 and 3.4e38, or 0), got '1e39'"},
      // Normalized, 1e-10 / 1e38 is 0 in float32: that model would drop out.
      {"WeightUnderflowsFloat32OnceNormalized",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: linear\nmodels:\n  - model: base\n    parameters: {weight: 1e38}\n"
                                    "  - model: ft\n    parameters: {weight: 1e-10}\noutput: out\n");
       },
       "key 'models[1].parameters.weight': must give a weight float32 can hold (magnitude between 1.4e-45 and "
       "3.4e38, or 0), got '1e-10', 1e-48 once normalized"},
      {"AlphaUnderflowsFloat32",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "parameters: {alpha: 1e-50}\noutput: out\n");
       },
       "key 'parameters.alpha': must give a weight float32 can hold"},
      {"SentenceTransformersModuleWithWeights",
       [](const fs::path& d) {
         write_file(d / "base/modules.json",
                    R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},)"
                    R"({"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},)"
                    R"({"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}])");
         write_file(d / "base/1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
         write_file(d / "base/2_Dense/config.json", R"({"in_features": 64, "out_features": 32})");
         write_safetensors(d / "base/2_Dense/model.safetensors",
                           {float_tensor("linear.weight", "F32", {32, 64}, values(32 * 64, 9))});
       },
       "base/2_Dense/model.safetensors: the sentence-transformers module '2_Dense' has weights of its own"},
      {"LongOutputName",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\noutput: " +
                                        std::string(240, 'o') + "\n");
       },
       "use a name of at most 236 bytes"},
      {"SameModelAsFolderAndFile",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: linear\nmodels:\n  - model: ft\n    parameters: {weight: 0.5}\n"
                                    "  - model: ft/model.safetensors\n    parameters: {weight: 0.5}\noutput: out\n");
       },
       "ft/model.safetensors is already listed as 'models[0].model'"},
      {"SameModelAsFolderAndIndex",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base/\n"
                                    "target: base/model.safetensors.index.json\noutput: out\n");
       },
       "is already listed as 'base_model'"},
      {"EmbeddingModelWithDecoderExamples",
       [](const fs::path& d) {
         write_file(d / "base/config.json", R"({"model_type": "bert", "hidden_size": 64})");
         write_file(d / "ex.jsonl", "{\"input\": \"2+2=\", \"output\": \"4\"}\n");
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "models:\n  - model: ft2\nexamples: ex.jsonl\noutput: out\n");
         write_safetensors(d / "ft2/model.safetensors", model(3));
         write_file(d / "ft2/config.json", R"({"model_type": "bert", "hidden_size": 64})");
       },
       "ex.jsonl: these are decoder examples ({input, output}), but"},
      // Issue 12: the model's kind comes from config.json, before anything is read.
      {"FewShotOfAFamilyNotSupportedYet",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"]})");
       },
       "base/config.json: model_type 'gemma3' (Gemma3ForConditionalGeneration) is not supported by "
       "few-shot weights yet (supported: bert, gemma2, gemma3_text, llama, mistral, mixtral, mt5, phi3, "
       "qwen2, qwen3, qwen3_moe, t5, xlm-roberta; merging it with fixed weights works)"},
      {"FewShotOfAnEncoderDecoderWithEmbeddingExamples",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]})");
         write_file(d / "ex.jsonl", "{\"query\": \"q\", \"pos\": [\"p\"], \"neg\": [\"1\", \"2\", \"3\", \"4\", "
                                    "\"5\", \"6\", \"7\"]}\n");
       },
       "base/config.json describes an encoder-decoder, scored with {input, output} examples"},
      {"FewShotOfAnEncoderOnlyT5",
       [](const fs::path& d) { fewshot_job(d, R"({"model_type": "t5", "architectures": ["T5EncoderModel"]})"); },
       "base/config.json: model_type 't5' (T5EncoderModel) is not a text-to-text model; few-shot weights "
       "score t5 as *ForConditionalGeneration"},
      {"FewShotOfAnEncoderDecoderNotSupportedYet",
       [](const fs::path& d) { fewshot_job(d, R"({"model_type": "umt5"})"); },
       "base/config.json: model_type 'umt5' is not supported by few-shot weights yet"},
      {"FewShotOfAnUnknownModelType",
       [](const fs::path& d) { fewshot_job(d, R"({"model_type": "mymodel"})"); },
       "base/config.json: model_type 'mymodel' is unknown to few-shot weights"},
      {"FewShotOfARerankerWithDecoderExamples",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "xlm-roberta", "architectures": ["XLMRobertaForSequenceClassification"]})");
       },
       "base/config.json describes a reranker, scored with {query, pos, neg} examples"},
      {"FewShotOfADecoderWithAnotherHead",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "llama", "architectures": ["LlamaForSequenceClassification"]})");
       },
       "(LlamaForSequenceClassification) is not a causal LM"},
      {"FewShotOfMixedKinds",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "llama"})");
         write_file(d / "ft2/config.json", R"({"model_type": "bert"})");
       },
       "ft2/config.json: model_type 'bert' is not the same kind of model as the reference's 'llama'"},
      {"FewShotWithoutConfigJson",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "llama"})");
         fs::remove(d / "ft2/config.json");
       },
       "ft2/config.json: no such file (few-shot weights read the model's kind from it)"},
      {"FewShotWithAnUnsupportedTokenizerComponent",
       [](const fs::path& d) {
         fewshot_job(d, R"({"model_type": "llama"})");
         write_file(d / "base/tokenizer.json",
                    R"({"version": "1.0", "added_tokens": [], "normalizer": {"type": "NFKC"}, )"
                    R"("pre_tokenizer": null, "post_processor": null, "decoder": null, )"
                    R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
       },
       "base/tokenizer.json: normalizer type 'NFKC' is not supported (supported: BertNormalizer, "
       "Lowercase, NFC, NFD, Precompiled, Prepend, Replace, Sequence, Strip)"},
      {"ConfigJsonGivenAsModel",
       [](const fs::path& d) {
         write_file(d / "base/config.json", R"({"model_type": "llama"})");
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: base/config.json\n"
                                    "output: out\n");
       },
       "base/config.json: this is a JSON file, not a safetensors file"},
      {"PytorchBinGivenAsModel",
       [](const fs::path& d) {
         write_file(d / "pytorch_model.bin", std::string("PK\x03\x04", 4) + std::string(200, 'x'));
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: pytorch_model.bin\n"
                                    "output: out\n");
       },
       "pytorch_model.bin: this is a zip archive (PyTorch's .bin/.pt format), not a safetensors file"},
      {"EmptyModelList",
       [](const fs::path& d) { write_file(d / "job.yaml", "merge_method: linear\nmodels: []\noutput: out\n"); },
       "got an empty list"},
      {"UnwritableOutput",
       [](const fs::path& d) {
         write_file(d / "blocker", "a file where a folder should be");
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nbase_model: base\ntarget: ft\n"
                                    "output: blocker/out\n");
       },
       "blocker"},
      // Methods of src/merge/methods/: the key named, nothing written.
      {"MethodUnknown", [](const fs::path& d) { method_job(d, "tiez", "weight: 1"); }, "unknown method 'tiez'"},
      {"MethodWithoutBase",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: ties\nmodels:\n  - model: ft\n    parameters: {weight: 1}\n"
                                    "output: out\n");
       },
       "key 'base_model': missing: ties"},
      {"MethodDensityZero", [](const fs::path& d) { method_job(d, "ties", "weight: 1, density: 0"); },
       "density must be in (0, 1], got 0"},
      {"MethodDensityGradientAboveOne", [](const fs::path& d) { method_job(d, "dare_ties", "weight: 1, density: [1.2, 1.5]"); },
       "density must be in (0, 1]"},
      {"MethodDellaEpsilon", [](const fs::path& d) { method_job(d, "della", "weight: 1, density: 0.9, epsilon: 0.2"); },
       "della needs density - epsilon and density + epsilon inside (0, 1)"},
      {"MethodGammaPlusDensity", [](const fs::path& d) { method_job(d, "breadcrumbs", "weight: 1, density: 0.95, gamma: 0.1"); },
       "gamma + density <= 1"},
      {"MethodMissingWeight", [](const fs::path& d) { method_job(d, "ties", "density: 0.5"); },
       "key 'parameters.weight': missing"},
      {"MethodUnknownParameter", [](const fs::path& d) { method_job(d, "ties", "weight: 1, densty: 0.5"); },
       "key 'models[0].parameters.densty': unknown parameter for ties"},
      {"MethodParameterOfAnotherMethod", [](const fs::path& d) { method_job(d, "ties", "weight: 1, epsilon: 0.1"); },
       "unknown parameter for ties"},
      {"MethodJobLevelParameterPerModel", [](const fs::path& d) { method_job(d, "ties", "weight: 1, normalize: false"); },
       "normalize applies to the whole merge"},
      {"MethodGradientOfABoolean",
       [](const fs::path& d) { method_job(d, "ties", "weight: 1", "parameters:\n  normalize: [true, false]\n"); },
       "normalize cannot vary over the layers"},
      {"MethodBadNumber", [](const fs::path& d) { method_job(d, "ties", "weight: heavy"); },
       "must be a finite number, got 'heavy'"},
      {"MethodWeightWithExamples",
       [](const fs::path& d) { method_job(d, "ties", "weight: 1", "examples: examples.jsonl\n"); },
       "the weights come from the examples"},
      {"MethodAlphaWithoutTarget",
       [](const fs::path& d) {
         method_job(d, "ties", "density: 0.5", "examples: examples.jsonl\nparameters:\n  alpha: 0.4\n");
       },
       "alpha mixes in a target"},
      {"SlerpThreeModels",
       [](const fs::path& d) {
         write_safetensors(d / "ft2/model.safetensors", model(3));
         write_file(d / "job.yaml", "merge_method: slerp\nbase_model: base\nparameters: {t: 0.5}\nmodels:\n"
                                    "  - model: ft\n  - model: ft2\noutput: out\n");
       },
       "key 'models': slerp merges exactly two models, the base and one other; got 3"},
      {"SlerpWithoutBase",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: slerp\nparameters: {t: 0.5}\nmodels:\n  - model: base\n"
                                    "  - model: ft\noutput: out\n");
       },
       "key 'base_model': missing: slerp interpolates from the base model"},
      {"NearswapOneModel",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: nearswap\nbase_model: base\nparameters: {t: 0.01}\nmodels:\n"
                                    "  - model: base\noutput: out\n");
       },
       "key 'models': nearswap merges exactly two models, the base and one other; got 1"},
      {"ModelStockTwoModels", [](const fs::path& d) { method_job(d, "model_stock", ""); },
       "key 'models': model_stock needs the base and at least two fine-tunes (three models); got 2"},
      {"NuslerpOneModel", [](const fs::path& d) { method_job(d, "nuslerp", "weight: 1"); },
       "key 'models': nuslerp merges exactly two models (besides an optional base_model); got 1"},
      {"MultislerpOnlyTheBase",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: multislerp\nbase_model: base\nmodels:\n  - model: base\n"
                                    "    parameters: {weight: 1}\noutput: out\n");
       },
       "key 'models': multislerp needs at least one model besides the base_model"},
      {"MultislerpAntipodal",
       [](const fs::path& d) {
         auto negated = model(2);
         for (auto& t : negated)
           for (size_t k = 1; k < t.bytes.size(); k += 2) t.bytes[k] ^= 0x80;  // the BF16 sign bits
         write_safetensors(d / "ft2/model.safetensors", negated);
         write_file(d / "job.yaml", "merge_method: multislerp\nmodels:\n  - model: ft\n    parameters: {weight: 1}\n"
                                    "  - model: ft2\n    parameters: {weight: 1}\n  - model: base\n"
                                    "    parameters: {weight: 0}\noutput: out\n");
       },
       "multislerp: the weighted sum of the models' unit vectors is zero"},
      {"KarcherMaxIter", [](const fs::path& d) { method_job(d, "karcher", "", "parameters: {max_iter: 2.5}\n"); },
       "key 'parameters.max_iter': max_iter must be a whole number from 0 to 1000000, got 2.5"},
      {"SceWithoutBase",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: sce\nmodels:\n  - model: base\n  - model: ft\noutput: out\n");
       },
       "key 'base_model': missing: sce merges the models' task vectors"},
      {"ArceeFusionThreeModels",
       [](const fs::path& d) {
         write_safetensors(d / "ft2/model.safetensors", model(3));
         write_file(d / "job.yaml", "merge_method: arcee_fusion\nbase_model: base\nmodels:\n  - model: ft\n"
                                    "  - model: ft2\noutput: out\n");
       },
       "key 'models': arcee_fusion merges exactly two models, the base and one other; got 3 in all"},
      {"ArceeFusionParameter", [](const fs::path& d) { method_job(d, "arcee_fusion", "weight: 1"); },
       "key 'models[0].parameters.weight': unknown parameter for arcee_fusion"},
      {"RamplusWithoutBase",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: ramplus_tl\nmodels:\n  - model: base\n  - model: ft\noutput: out\n");
       },
       "key 'base_model': missing: ramplus_tl merges the models' task vectors"},
      {"SlerpWithoutT", [](const fs::path& d) { method_job(d, "slerp", ""); }, "key 'parameters.t': missing"},
      {"SlerpWeight", [](const fs::path& d) { method_job(d, "slerp", "weight: 1", "parameters: {t: 0.5}\n"); },
       "key 'models[0].parameters.weight': unknown parameter for slerp"},
      {"SlicesWithLmCocktail",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: lm_cocktail\nslices:\n  - sources:\n      - model: base\n"
                                    "        layer_range: [0, 1]\noutput: out\n");
       },
       "key 'slices': slices are not supported with lm_cocktail yet"},
      {"SlicesWithLinearWithoutWeight",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(2, 8));
         write_safetensors(d / "lb/model.safetensors", layered(2, 8));
         write_file(d / "job.yaml", "merge_method: linear\nslices:\n  - sources:\n      - model: la\n"
                                    "        layer_range: [0, 2]\n      - model: lb\n        layer_range: [0, 2]\n"
                                    "        parameters: {weight: 1}\noutput: out\n");
       },
       "la (tensor 'model.embed_tokens.weight'), and there is no top-level parameters.weight"},
      {"SlicesAndModels",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: passthrough\nmodels:\n  - model: ft\nslices:\n  - sources:\n"
                                    "      - model: base\n        layer_range: [0, 1]\noutput: out\n");
       },
       "key 'models': give either 'models' or 'slices', not both"},
      {"SlicesPastTheLayers",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(3, 8));
         write_file(d / "job.yaml", "merge_method: passthrough\nslices:\n  - sources:\n      - model: la\n"
                                    "        layer_range: [1, 4]\noutput: out\n");
       },
       "key 'slices[0].sources[0].layer_range': [1, 4] is past the layers of"},
      {"SlicesOfOtherWidths",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(2, 8));
         write_safetensors(d / "lb/model.safetensors", layered(2, 6));
         write_file(d / "la/config.json", R"({"model_type": "llama", "hidden_size": 8, "num_hidden_layers": 2})");
         write_file(d / "lb/config.json", R"({"model_type": "llama", "hidden_size": 6, "num_hidden_layers": 2})");
         write_file(d / "job.yaml", "merge_method: passthrough\nslices:\n  - sources:\n      - model: la\n"
                                    "        layer_range: [0, 2]\n  - sources:\n      - model: lb\n"
                                    "        layer_range: [0, 2]\noutput: out\n");
       },
       "lb/config.json: key 'hidden_size': 6, but the reference model's is 8"},
      {"SlerpSlicesOfOtherWidths",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(2, 8));
         write_safetensors(d / "lb/model.safetensors", layered(2, 6));
         write_file(d / "job.yaml", "merge_method: slerp\nbase_model: la\nparameters: {t: 0.5}\nslices:\n"
                                    "  - sources:\n      - model: la\n        layer_range: [0, 2]\n"
                                    "      - model: lb\n        layer_range: [0, 2]\noutput: out\n");
       },
       "tensor 'model.embed_tokens.weight': shape [11, 6] in"},
      {"PassthroughTwoSourcesInASlice",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(2, 8));
         write_safetensors(d / "lb/model.safetensors", layered(2, 8));
         write_file(d / "job.yaml", "merge_method: passthrough\nslices:\n  - sources:\n      - model: la\n"
                                    "        layer_range: [0, 2]\n      - model: lb\n        layer_range: [0, 2]\n"
                                    "output: out\n");
       },
       "key 'slices[0]': passthrough copies each layer from one model; this slice has 2 sources"},
      {"SlicesNamingOtherModels",
       [](const fs::path& d) {
         write_safetensors(d / "la/model.safetensors", layered(2, 8));
         write_safetensors(d / "lb/model.safetensors", layered(2, 8));
         write_safetensors(d / "lc/model.safetensors", layered(2, 8));
         write_file(d / "job.yaml", "merge_method: ties\nbase_model: la\nparameters: {weight: 1}\nslices:\n"
                                    "  - sources:\n      - model: la\n        layer_range: [0, 1]\n"
                                    "      - model: lb\n        layer_range: [0, 1]\n"
                                    "  - sources:\n      - model: la\n        layer_range: [1, 2]\n"
                                    "      - model: lc\n        layer_range: [1, 2]\noutput: out\n");
       },
       "key 'slices[0]': names 2 models, but the merge method reads 3"},
      {"MethodRandomSeedOnLinear",
       [](const fs::path& d) {
         write_file(d / "job.yaml", "merge_method: linear\nrandom_seed: 3\nmodels:\n  - model: ft\n"
                                    "    parameters: {weight: 1}\noutput: out\n");
       },
       "key 'random_seed': seeds the random masks"},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BadInput : public ::testing::TestWithParam<Case> {};

TEST_P(BadInput, FailsOnEveryRankWithOneLineAndNoOutput) {
  char tmpl[] = "/tmp/cocktail-bad-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  good_setup(dir);
  GetParam().spoil(dir);
  const auto before = tree(dir);
  const RunResult r = run_mpi(2, {(dir / "job.yaml").string()}, /*every_rank_finishes=*/true);
  EXPECT_EQ(r.rank_status.size(), 2u) << r.output;
  for (int s : r.rank_status) EXPECT_NE(s, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  EXPECT_EQ(r.lines_containing(GetParam().expect), 1) << r.output;
  EXPECT_EQ(tree(dir), before) << "the failed job created or removed files";
  fs::remove_all(dir);
}

TEST(BadInputBaseline, MpirunReportsTheFailure) {
  char tmpl[] = "/tmp/cocktail-bad-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  good_setup(dir);
  fs::remove(dir / kFt);
  const RunResult r = run_mpi(3, {(dir / "job.yaml").string()});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(r.lines_containing("cocktail: error:"), 1) << r.output;
  fs::remove_all(dir);
}

TEST(BadInputBaseline, GoodSetupMerges) {
  char tmpl[] = "/tmp/cocktail-bad-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  good_setup(dir);
  const RunResult r = run_mpi(2, {(dir / "job.yaml").string()});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out/model.safetensors"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(All, BadInput, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
