#pragma once
// Loads libcocktail_fewshot.so (fewshot/fewshot_module.hpp) from the folder
// of the running cocktail_dist, once per process.
#include "fewshot/fewshot_module.hpp"

namespace cocktail {

// Throws cocktail::Error naming the file and the loader's reason when the
// module is missing or is not this build's.
const FewShotModule& fewshot_module();

}  // namespace cocktail
