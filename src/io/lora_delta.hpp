#pragma once
// The update a LoRA adapter adds to a base tensor, computed for the rows a
// read covers: a unit of work multiplies its rows of B by A (a BLAS sgemm)
// and never holds more of the adapted tensor than it reads.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/file.hpp"
#include "io/lora_adapter.hpp"

namespace cocktail {

// An adapted tensor's A and B as float32, read from the adapter's file.
// Small: r * (rows + cols) elements.
struct LoraOperands {
  std::vector<float> a, b;
};
LoraOperands read_lora_operands(const File& adapter, const LoraFactors& f);

// Rows of the base tensor whose update one matrix product computes. A read
// computes every whole group it touches, so an element's update always
// comes from the same call whatever range, rank, chunk or thread reads it:
// the same bytes at any scale.
inline constexpr uint64_t kLoraRowGroup = 16;

// Adds the update to elements [first, first + count) of a base tensor of
// `rows` x `cols`, held in `data` in the tensor's stored dtype, rounding as
// peft's merge_and_unload() does: round(w + delta) in the stored dtype, the
// delta rounded first as LoraFactors says.
void add_lora_update(const LoraFactors& f, const LoraOperands& ops, DType dtype, uint64_t rows, uint64_t cols,
                     uint64_t first, uint64_t count, std::byte* data);

// Elements [first, first + count) of one of `ckpt`'s tensors in its stored
// dtype, as every reader sees them: the stored bytes plus any LoRA update.
// Opens the files for this one read (the loss phase's rows; the merge keeps
// its files open and its factors read, merge/input_files.hpp).
void read_checkpoint_elements(const Checkpoint& ckpt, const CheckpointTensor& t, uint64_t first, uint64_t count,
                              std::byte* dst);

}  // namespace cocktail
