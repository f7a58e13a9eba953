#pragma once
// Which output tensors exist, what each is made from, and what it becomes.
// Built from headers only; this is where models are checked to agree.
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.hpp"

namespace cocktail {

struct OutputVocabulary;

enum class TensorAction {
  Merge,          // float tensor: weighted sum of every model
  CopyReference,  // integer/bool tensor: the reference model's bytes, after comparing
};

struct TensorSource {
  size_t model = 0;                       // index into the job's models
  const CheckpointTensor* tensor = nullptr;
};

struct PlannedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  uint64_t numel = 0;
  TensorAction action = TensorAction::Merge;
  DType out_dtype = DType::F32;
  // What is read: for Merge the summed models in recipe order; for
  // CopyReference every model, the reference first (the others are compared).
  std::vector<TensorSource> sources;
  // Units of this tensor hold a multiple of this many elements (a method
  // that needs whole rows in a unit sets it); 1 = any split.
  uint64_t unit_alignment = 1;
  // For gradients: where the tensor sits in the layer stack, or in its slice
  // (mergekit's t: index / (layers - 1), 1 for one layer, 0 outside).
  double layer_position = 0;
  int slice = -1;  // the index into Job::slices that made it, or -1
  // A tensor indexed by token (embeddings, output heads) under a tokenizer
  // choice: each source's rows are read in the output's token order; null
  // for every other tensor.
  const OutputVocabulary* vocabulary = nullptr;

  uint64_t out_bytes() const { return numel * dtype_size(out_dtype); }
  // Elements of a row, the last dimension (a 1-D tensor is one row): what
  // the methods with per-row statistics align their units to.
  uint64_t row_length() const {
    return shape.size() >= 2 ? (shape.back() > 0 ? shape.back() : 1) : (numel > 0 ? numel : 1);
  }
};

// Output tensors in the reference model's order (its files in index order,
// tensors by offset). `summed` lists the models of the weighted sum.
// `out_dtype` replaces the reference dtype of float tensors. Throws cocktail::Error naming the tensor and model when a tensor is
// missing from a model, shapes differ, a float is needed where a model has
// another dtype, or a dtype cannot be merged.
// One output tensor from `all`: the tensor of each model that takes part,
// by job index (null for the others); `summed` the merged models in order.
PlannedTensor plan_tensor(const std::string& name, const std::vector<const CheckpointTensor*>& all,
                          const std::vector<Checkpoint>& models, size_t reference, const std::vector<size_t>& summed,
                          std::optional<DType> out_dtype);

std::vector<PlannedTensor> plan_tensors(const std::vector<Checkpoint>& models, size_t reference,
                                        const std::vector<size_t>& summed,
                                        std::optional<DType> out_dtype,
                                        const OutputVocabulary* vocabulary = nullptr);

}  // namespace cocktail
