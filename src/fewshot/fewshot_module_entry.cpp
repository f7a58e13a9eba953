// What libcocktail_fewshot.so exports: its table (fewshot/fewshot_module.hpp)
// and its build id (core/module_file.hpp).
#include "fewshot/fewshot_module.hpp"
#include "fewshot/fewshot_weights.hpp"
#include "search/choose_weights.hpp"

extern "C" const cocktail::FewShotModule* cocktail_fewshot_module() {
  static const cocktail::FewShotModule table{&cocktail::fewshot_forward_on_gpu, &cocktail::check_weight_choice,
                                             &cocktail::compute_fewshot_weights, &cocktail::choose_weights};
  return &table;
}

extern "C" const char* cocktail_module_build_id() { return COCKTAIL_BUILD_ID; }
