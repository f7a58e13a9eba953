#pragma once
#include <ostream>
#include <string>

namespace cocktail {

// Prints every tensor of a checkpoint (name, dtype, shape, bytes, file) and totals.
void inspect_checkpoint(const std::string& path, std::ostream& out);

}  // namespace cocktail
