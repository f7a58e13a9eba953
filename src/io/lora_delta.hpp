#pragma once
// The update a LoRA adapter adds to a base tensor, computed for the elements
// a read covers (kernels/lora_update.hpp): a unit of work multiplies its rows
// of B by A and never holds more of the adapted tensor than it reads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "io/file.hpp"
#include "io/lora_adapter.hpp"
#include "lora_update.hpp"

namespace cocktail {

// An adapted tensor's update as left @ right, float32, read from the
// adapter's file: left = B and right = A, or for a (B @ A)^T layer left =
// A^T and right = B^T. Small: r * (rows + cols) elements.
struct LoraOperands {
  std::vector<float> left, right;
};
LoraOperands read_lora_operands(const File& adapter, const LoraFactors& f);

// The kernels' arguments for adding the update to elements [first, first +
// count) of the adapted tensor (`cols` per row), held in `data` in its
// stored dtype, rounding as peft's merge_and_unload() does.
LoraArgs lora_args(const LoraFactors& f, const LoraOperands& ops, uint64_t cols, DType dtype, uint64_t first,
                   uint64_t count, std::byte* data);

// A LoRA candidate's update of one input of a work unit, for a compute that
// adds it to its own copy of the input (merge/chunk_compute.hpp): `args`
// without `data`, its left and right owned by `operands`.
struct LoraUpdate {
  size_t input = 0;  // which of the unit's inputs
  std::shared_ptr<const LoraOperands> operands;
  LoraArgs args;
};

// Elements [first, first + count) of one of `ckpt`'s tensors in its stored
// dtype, as every reader sees them: the stored bytes plus any LoRA update.
// Opens the files for this one read (the loss phase's rows; the merge keeps
// its files open and its factors read, merge/input_files.hpp).
void read_checkpoint_elements(const Checkpoint& ckpt, const CheckpointTensor& t, uint64_t first, uint64_t count,
                              std::byte* dst);

}  // namespace cocktail
