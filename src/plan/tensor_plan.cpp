#include "plan/tensor_plan.hpp"

#include "core/dtype_names.hpp"
#include "core/error.hpp"
#include "plan/layer_names.hpp"

namespace cocktail {
namespace {

std::string model_label(const Checkpoint& m) { return m.path().string(); }

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
                                        std::optional<DType> out_dtype) {
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
    planned.push_back(plan_tensor(rt.info.name, all, models, reference, summed, out_dtype));
    planned.back().layer_position = layers.position(rt.info.name);
  }
  return planned;
}

}  // namespace cocktail
