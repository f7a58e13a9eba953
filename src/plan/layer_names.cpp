#include "plan/layer_names.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace cocktail {
namespace {

// The [begin, end) of the layer index digits in `name`, if any.
std::optional<std::pair<size_t, size_t>> layer_digits(const std::string& name) {
  size_t start = 0;
  std::string previous;
  while (start <= name.size()) {
    const size_t dot = name.find('.', start);
    const size_t end = dot == std::string::npos ? name.size() : dot;
    const std::string seg = name.substr(start, end - start);
    if ((previous == "layers" || previous == "layer" || previous == "h" || previous == "blocks") && !seg.empty() &&
        seg.size() < 10 && seg.find_first_not_of("0123456789") == std::string::npos)
      return std::pair{start, end};
    if (dot == std::string::npos) break;
    previous = seg;
    start = dot + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<long> layer_index(const std::string& name) {
  const auto d = layer_digits(name);
  if (!d) return std::nullopt;
  return std::stol(name.substr(d->first, d->second - d->first));
}

std::optional<std::string> layer_stack_prefix(const std::string& name) {
  const auto d = layer_digits(name);
  if (!d) return std::nullopt;
  return name.substr(0, d->first);
}

std::string with_layer(const std::string& name, long layer) {
  const auto d = layer_digits(name);
  if (!d) throw Error("internal: tensor '" + name + "' has no layer index");
  return name.substr(0, d->first) + std::to_string(layer) + name.substr(d->second);
}

bool before_layers(const std::string& name) {
  if (name.find("embed_out") != std::string::npos) return false;  // GPT-NeoX's output head
  return name.find("embed") != std::string::npos || name.find("wte") != std::string::npos ||
         name.find("wpe") != std::string::npos;
}

long layer_count(const std::vector<std::string>& tensor_names) {
  long layers = 0;
  for (const auto& n : tensor_names)
    if (auto i = layer_index(n)) layers = std::max(layers, *i + 1);
  return layers;
}

double LayerStack::position(const std::string& tensor_name) const {
  const std::optional<long> i = layer_index(tensor_name);
  if (!i) return 0.0;
  return layers > 1 ? double(*i) / double(layers - 1) : 1.0;
}

}  // namespace cocktail
