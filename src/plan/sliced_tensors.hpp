#pragma once
// mergekit's slices as output tensors: the output's layers are the slices'
// layers in order, layer k of a slice merged from layer begin + k of each
// of its sources and renamed to its index in the output; the tensors before
// the layers (embeddings) come from the first slice's models, those after
// (final norm, lm_head) from the last slice's, as mergekit plans them.
#include <optional>
#include <utility>
#include <vector>

#include "config/job.hpp"
#include "plan/tensor_plan.hpp"

namespace cocktail {

// `summed`: the method's models, in order; a tensor reads those its slice
// names. Unless `models_may_differ` (passthrough), every slice must name
// all of them. Throws naming the slice key or the model for a layer_range
// past a model's layers, sources of unequal lengths, tensors missing from a
// source layer or of other shapes (a different hidden size).
std::vector<PlannedTensor> plan_sliced_tensors(const std::vector<Checkpoint>& models, const std::vector<Slice>& slices,
                                               const std::vector<size_t>& summed, bool models_may_differ,
                                               std::optional<DType> out_dtype);

// Each output layer's model and layer in it (its slice's first source).
std::vector<std::pair<size_t, long>> sliced_layer_sources(const std::vector<Slice>& slices);

}  // namespace cocktail
