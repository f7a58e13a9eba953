// DELLA (Deep et al. 2024, arXiv 2406.11617): keep each task vector entry
// with a probability that grows with its magnitude rank in its row, from
// density - epsilon to density + epsilon, and rescale (on by default) to the
// task vector's L1 norm. della elects signs as TIES, della_linear does not.
#include "merge/methods/registry.hpp"
#include "merge/methods/task_vector.hpp"

namespace cocktail {

const Method& della_method() {
  static const auto m = make_task_vector_method({"della", Sparsifier::Della, true, true, true});
  return *m;
}

const Method& della_linear_method() {
  static const auto m = make_task_vector_method({"della_linear", Sparsifier::Della, false, false, true});
  return *m;
}

}  // namespace cocktail
