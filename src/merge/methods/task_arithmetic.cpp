// Task arithmetic (Ilharco et al. 2023, arXiv 2212.04089): base + lambda *
// sum_i w_i (x_i - base), divided by sum_i w_i when normalize (off by default).
#include "merge/methods/registry.hpp"
#include "merge/methods/task_vector.hpp"

namespace cocktail {

const Method& task_arithmetic_method() {
  static const auto m = make_task_vector_method({"task_arithmetic", Sparsifier::None, false, false, false});
  return *m;
}

}  // namespace cocktail
