#include "plan/sliced_tensors.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "plan/layer_names.hpp"

namespace cocktail {
namespace {

std::vector<std::string> names_of(const Checkpoint& m) {
  std::vector<std::string> names;
  for (const auto& t : m.tensors()) names.push_back(t.info.name);
  return names;
}

std::string range_text(const SliceSource& s) {
  return "[" + std::to_string(s.begin) + ", " + std::to_string(s.end) + "]";
}

void check_slices(const std::vector<Checkpoint>& models, const std::vector<Slice>& slices,
                  const std::vector<size_t>& summed, bool models_may_differ) {
  const std::set<size_t> all(summed.begin(), summed.end());
  for (const Slice& slice : slices) {
    const SliceSource& first = slice.sources[0];
    std::set<size_t> named;
    for (const SliceSource& s : slice.sources) {
      std::set<std::string> stacks;
      for (const auto& t : models[s.model].tensors())
        if (auto p = layer_stack_prefix(t.info.name)) stacks.insert(*p);
      if (stacks.size() > 1)
        throw Error(s.where + ": " + models[s.model].label() + " has " + std::to_string(stacks.size()) +
                    " layer stacks ('" + *stacks.begin() + "', '" + *stacks.rbegin() +
                    "'); slices work on a model with one (mergekit's modules are not supported)");
      const long layers = layer_count(names_of(models[s.model]));
      if (s.end > layers)
        throw Error(s.where + ": " + range_text(s) + " is past the layers of " + models[s.model].label() +
                    " (it has " + std::to_string(layers) + ")");
      if (s.end - s.begin != first.end - first.begin)
        throw Error(s.where + ": " + range_text(s) + " has " + std::to_string(s.end - s.begin) +
                    " layers, but the slice's first source " + range_text(first) + " has " +
                    std::to_string(first.end - first.begin) + "; every source of a slice gives as many");
      named.insert(s.model);
    }
    if (!models_may_differ && named != all)
      throw Error(slice.where + ": names " + std::to_string(named.size()) + " models, but the merge method reads " +
                  std::to_string(all.size()) + " (the base_model among them, if it has one) in every tensor: each " +
                  "slice lists all of them as sources (only passthrough takes other models per slice)");
  }
}

// The tensor `name` of model `m` for the output tensor `out`, or an error.
const CheckpointTensor* source_tensor(const Checkpoint& m, const std::string& name, const std::string& out,
                                      const std::string& where) {
  const CheckpointTensor* t = m.find(name);
  if (!t)
    throw Error(where + ": tensor '" + name + "' (for the output's '" + out + "') is missing from " + m.label());
  return t;
}

}  // namespace

std::vector<PlannedTensor> plan_sliced_tensors(const std::vector<Checkpoint>& models, const std::vector<Slice>& slices,
                                               const std::vector<size_t>& summed, bool models_may_differ,
                                               std::optional<DType> out_dtype) {
  check_slices(models, slices, summed, models_may_differ);
  std::vector<PlannedTensor> planned;
  // A tensor outside the layers, from `slice`'s models.
  auto outside = [&](int s, bool before) {
    const Slice& slice = slices[s];
    const Checkpoint& ref = models[slice.sources[0].model];
    for (const auto& rt : ref.tensors()) {
      const std::string& name = rt.info.name;
      if (layer_index(name) || before_layers(name) != before) continue;
      std::vector<const CheckpointTensor*> all(models.size(), nullptr);
      for (const SliceSource& src : slice.sources)
        all[src.model] = source_tensor(models[src.model], name, name, slice.where);
      planned.push_back(plan_tensor(name, all, models, slice.sources[0].model, summed, out_dtype));
      planned.back().slice = s;
    }
  };
  outside(0, true);
  long out_layer = 0;
  for (size_t s = 0; s < slices.size(); ++s) {
    const Slice& slice = slices[s];
    const SliceSource& first = slice.sources[0];
    const Checkpoint& ref = models[first.model];
    const long n = first.end - first.begin;
    for (long k = 0; k < n; ++k, ++out_layer) {
      for (const auto& rt : ref.tensors()) {
        if (layer_index(rt.info.name) != first.begin + k) continue;
        const std::string out = with_layer(rt.info.name, out_layer);
        std::vector<const CheckpointTensor*> all(models.size(), nullptr);
        for (const SliceSource& src : slice.sources)
          all[src.model] = source_tensor(models[src.model], with_layer(rt.info.name, src.begin + k), out, src.where);
        planned.push_back(plan_tensor(out, all, models, first.model, summed, out_dtype));
        planned.back().slice = static_cast<int>(s);
        planned.back().layer_position = n > 1 ? double(k) / double(n - 1) : 1.0;
      }
    }
  }
  outside(static_cast<int>(slices.size()) - 1, false);
  return planned;
}

std::vector<std::pair<size_t, long>> sliced_layer_sources(const std::vector<Slice>& slices) {
  std::vector<std::pair<size_t, long>> layers;
  for (const Slice& slice : slices)
    for (long l = slice.sources[0].begin; l < slice.sources[0].end; ++l) layers.emplace_back(slice.sources[0].model, l);
  return layers;
}

}  // namespace cocktail
