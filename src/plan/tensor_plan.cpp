#include "plan/tensor_plan.hpp"

#include "core/dtype_names.hpp"
#include "core/error.hpp"

namespace cocktail {
namespace {

std::string model_label(const Checkpoint& m) { return m.path().string(); }

// `all` holds the tensor of every model, in job order.
void check_agreement(const PlannedTensor& t, const std::vector<const CheckpointTensor*>& all,
                     const std::vector<Checkpoint>& models, size_t ref) {
  const TensorInfo& r = all[ref]->info;
  for (size_t i = 0; i < models.size(); ++i) {
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

  std::vector<PlannedTensor> planned;
  planned.reserve(ref.tensors().size());
  for (const auto& rt : ref.tensors()) {
    PlannedTensor t;
    t.name = rt.info.name;
    t.shape = rt.info.shape;
    t.numel = rt.info.numel();
    std::vector<const CheckpointTensor*> all;
    for (const auto& m : models) {
      const CheckpointTensor* s = m.find(t.name);
      if (!s)
        throw Error("tensor '" + t.name + "' is in " + model_label(ref) + " but missing from " +
                    model_label(m));
      all.push_back(s);
    }
    bool any_float = false;
    for (const auto* s : all) any_float |= !is_integer_like(s->info.dtype);
    t.action = any_float ? TensorAction::Merge : TensorAction::CopyReference;
    check_agreement(t, all, models, reference);
    t.out_dtype = (t.action == TensorAction::Merge && out_dtype) ? *out_dtype : rt.info.dtype;
    if (t.action == TensorAction::Merge) {
      for (size_t i : summed) t.sources.push_back({i, all[i]});
    } else {
      t.sources.push_back({reference, all[reference]});
      for (size_t i = 0; i < all.size(); ++i)
        if (i != reference) t.sources.push_back({i, all[i]});
    }
    planned.push_back(std::move(t));
  }
  return planned;
}

}  // namespace cocktail
