#pragma once
// A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors)
// applied to the checkpoint it was trained on: mergekit's `model:
// base+adapter`. Nothing is materialised here; the adapted tensors carry
// their factors, and every read adds the update to the rows it reads
// (io/lora_delta.hpp).
#include <filesystem>

#include "io/checkpoint.hpp"

namespace cocktail {

// The low-rank update of one base tensor: delta = scale * (B @ A), or its
// transpose, in the shape of the base tensor.
struct LoraFactors {
  CheckpointTensor a;  // lora_A.weight [r, in], or lora_embedding_A [r, rows]
  CheckpointTensor b;  // lora_B.weight [out, r], or lora_embedding_B [cols, r]
  uint64_t rank = 0;
  // lora_alpha / r, or lora_alpha / sqrt(r) under use_rslora (alpha_pattern
  // and rank_pattern per module), in float32 as torch multiplies by it.
  float scale = 0;
  // (B @ A)^T: layers that store [in, out] (fan_in_fan_out, GPT-2's Conv1D)
  // and embeddings. Rows of the base tensor are then columns of A.
  bool transposed = false;
  // peft's merge_and_unload rounds the update to the adapter's dtype when it
  // is 16-bit (it multiplies in float32 on the CPU, then casts back), and an
  // embedding's also to the base's before adding: F32 = no rounding.
  DType round_first = DType::F32;
  DType round_then = DType::F32;
};

// Reads and validates the adapter at `folder` against `base` and attaches
// it: adapted tensors get their LoraFactors, tensors the adapter saves whole
// (modules_to_save, an embedding's base_layer) replace the base's, and the
// adapter's safetensors file joins base.files(). Throws cocktail::Error
// naming the adapter file and the tensor or key: an adapter of another
// architecture (a module the base lacks, shapes that differ), a rank that is
// not the config's, a variant whose update is not scale * B @ A (DoRA, lora
// bias, ...).
void apply_lora_adapter(Checkpoint& base, const std::filesystem::path& folder);

}  // namespace cocktail
