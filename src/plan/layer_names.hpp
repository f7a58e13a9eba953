#pragma once
// Where a tensor sits in a model's layer stack, read from its name as
// mergekit's architectures do for the usual families: the `N` of
// "layers.N.", "layer.N.", "h.N." or "blocks.N.". Slices rename a tensor to
// its new layer index; gradients take its position in the stack.
#include <optional>
#include <string>
#include <vector>

namespace cocktail {

// The layer index in `name`, if it names a layer's tensor.
std::optional<long> layer_index(const std::string& name);

// The part of `name` before its layer index ("model.layers."): which layer
// stack it belongs to.
std::optional<std::string> layer_stack_prefix(const std::string& name);

// `name` with its layer index replaced by `layer` (it must have one).
std::string with_layer(const std::string& name, long layer);

// Outside the layers, before them (embeddings: "embed", "wte", "wpe") or
// after (final norm, lm_head, GPT-NeoX's embed_out, pooler): where
// mergekit's architectures put pre_weights and post_weights.
bool before_layers(const std::string& name);

// The layer count of a model: one more than the largest layer index.
long layer_count(const std::vector<std::string>& tensor_names);

// t = index / (layers - 1) inside the stack (1 for a single layer, as
// mergekit), 0 outside (embeddings, final norm, lm_head).
struct LayerStack {
  explicit LayerStack(const std::vector<std::string>& tensor_names) : layers(layer_count(tensor_names)) {}
  double position(const std::string& tensor_name) const;
  long layers = 0;
};

}  // namespace cocktail
