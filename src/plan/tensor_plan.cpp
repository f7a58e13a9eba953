#include "plan/tensor_plan.hpp"

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "plan/layer_names.hpp"
#include "vocab/output_vocabulary.hpp"

namespace cocktail {
namespace {

std::string model_label(const Checkpoint& m) { return m.label(); }

// `all` holds the tensor of every model that takes part, in job order (null
// for the others).
void check_agreement(const PlannedTensor& t, const std::vector<const CheckpointTensor*>& all,
                     const std::vector<Checkpoint>& models, size_t ref) {
  const TensorInfo& r = all[ref]->info;
  for (size_t i = 0; i < models.size(); ++i) {
    if (!all[i]) continue;
    const TensorInfo& s = all[i]->info;
    if (s.shape != r.shape)
      throw Error("tensor '" + t.name + "': shape " + format_shape(s.shape) + " in " +
                  model_label(models[i]) + " but " + format_shape(r.shape) + " in " +
                  model_label(models[ref]));
    const bool want_float = t.action == TensorAction::Merge;
    if (want_float && !is_mergeable_float(s.dtype)) {
      const std::string why = is_integer_like(s.dtype)
                                  ? "a float is needed because other models hold floats"
                                  : "this dtype cannot be merged";
      throw Error("tensor '" + t.name + "': dtype " + std::string(safetensors_name(s.dtype)) +
                  " in " + model_label(models[i]) + ": " + why);
    }
    if (!want_float && s.dtype != r.dtype)
      throw Error("tensor '" + t.name + "': dtype " + std::string(safetensors_name(s.dtype)) +
                  " in " + model_label(models[i]) + " but " +
                  std::string(safetensors_name(r.dtype)) + " in " + model_label(models[ref]));
  }
}

// A tensor indexed by token under a tokenizer choice: the models' row
// counts may differ; every other dimension, and the dtype, must agree.
PlannedTensor plan_vocabulary_tensor(const std::string& name, const std::vector<const CheckpointTensor*>& all,
                                     const std::vector<Checkpoint>& models, size_t reference,
                                     const std::vector<size_t>& summed, std::optional<DType> out_dtype,
                                     const OutputVocabulary& vocab) {
  PlannedTensor t;
  t.name = name;
  const TensorInfo& r = all[reference]->info;
  if (r.shape.empty())
    throw Error("tensor '" + name + "': a scalar in " + model_label(models[reference]) + ", not indexed by token");
  for (size_t i : summed) {
    const TensorInfo& s = all[i]->info;
    const std::vector<uint64_t> rest(s.shape.begin() + (s.shape.empty() ? 0 : 1), s.shape.end());
    if (s.shape.empty() || rest != std::vector<uint64_t>(r.shape.begin() + 1, r.shape.end()))
      throw Error("tensor '" + name + "': shape " + format_shape(s.shape) + " in " + model_label(models[i]) +
                  " but " + format_shape(r.shape) + " in " + model_label(models[reference]) +
                  " (only the token rows may differ)");
    if (!is_mergeable_float(s.dtype) || s.dtype != all[summed.front()]->info.dtype)
      throw Error("tensor '" + name + "': dtype " + std::string(safetensors_name(s.dtype)) + " in " +
                  model_label(models[i]) + "; re-mapping token rows needs one float dtype in every model");
    if (static_cast<int64_t>(s.shape[0]) < vocab.models[i].rows_needed)
      throw Error("tensor '" + name + "': " + std::to_string(s.shape[0]) + " rows in " + model_label(models[i]) +
                  " but its config.json says vocab_size " + std::to_string(vocab.models[i].rows_needed));
    t.sources.push_back({i, all[i]});
  }
  t.shape = r.shape;
  t.shape[0] = vocab.rows;
  t.numel = 1;
  for (uint64_t d : t.shape) t.numel *= d;
  t.action = TensorAction::Merge;
  t.out_dtype = out_dtype ? *out_dtype : r.dtype;
  t.vocabulary = &vocab;
  return t;
}

}  // namespace

PlannedTensor plan_tensor(const std::string& name, const std::vector<const CheckpointTensor*>& all,
                          const std::vector<Checkpoint>& models, size_t reference, const std::vector<size_t>& summed,
                          std::optional<DType> out_dtype) {
  PlannedTensor t;
  t.name = name;
  t.shape = all[reference]->info.shape;
  t.numel = all[reference]->info.numel();
  bool any_float = false;
  for (const auto* s : all) any_float |= s && !is_integer_like(s->info.dtype);
  t.action = any_float ? TensorAction::Merge : TensorAction::CopyReference;
  check_agreement(t, all, models, reference);
  t.out_dtype = (t.action == TensorAction::Merge && out_dtype) ? *out_dtype : all[reference]->info.dtype;
  if (t.action == TensorAction::Merge) {
    for (size_t i : summed)
      if (all[i]) t.sources.push_back({i, all[i]});
  } else {
    t.sources.push_back({reference, all[reference]});
    for (size_t i = 0; i < all.size(); ++i)
      if (i != reference && all[i]) t.sources.push_back({i, all[i]});
  }
  return t;
}

std::vector<PlannedTensor> plan_tensors(const std::vector<Checkpoint>& models, size_t reference,
                                        const std::vector<size_t>& summed,
                                        std::optional<DType> out_dtype, const OutputVocabulary* vocabulary) {
  const Checkpoint& ref = models.at(reference);
  for (size_t i = 0; i < models.size(); ++i) {
    // Tensors present elsewhere but absent from the reference are caught here;
    // the reverse direction is caught per tensor below.
    for (const auto& t : models[i].tensors())
      if (!ref.find(t.info.name))
        throw Error("tensor '" + t.info.name + "' is in " + model_label(models[i]) +
                    " but missing from " + model_label(ref));
  }

  std::vector<std::string> names;
  for (const auto& rt : ref.tensors()) names.push_back(rt.info.name);
  const LayerStack layers(names);
  std::vector<PlannedTensor> planned;
  planned.reserve(ref.tensors().size());
  for (const auto& rt : ref.tensors()) {
    std::vector<const CheckpointTensor*> all;
    for (const auto& m : models) {
      const CheckpointTensor* s = m.find(rt.info.name);
      if (!s)
        throw Error("tensor '" + rt.info.name + "' is in " + model_label(ref) + " but missing from " +
                    model_label(m));
      all.push_back(s);
    }
    planned.push_back(vocabulary && is_vocabulary_tensor(rt.info.name)
                          ? plan_vocabulary_tensor(rt.info.name, all, models, reference, summed, out_dtype, *vocabulary)
                          : plan_tensor(rt.info.name, all, models, reference, summed, out_dtype));
    planned.back().layer_position = layers.position(rt.info.name);
  }
  return planned;
}

}  // namespace cocktail
