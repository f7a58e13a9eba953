#pragma once
// mergekit's generalized task arithmetic, the family behind task_arithmetic,
// ties, dare_linear, dare_ties, breadcrumbs, breadcrumbs_ties, della and
// della_linear: each model's task vector d_i = x_i - base is sparsified
// (or not), optionally rescaled, weighted, optionally sign-elected (TIES),
// summed, optionally normalized by the weights, scaled by lambda and added
// to the base. The methods differ only in the choices below; each method's
// file declares its own.
#include <memory>
#include <string>

#include "merge/methods/method.hpp"

namespace cocktail {

enum class Sparsifier {
  None,       // task_arithmetic
  Magnitude,  // ties: keep the top density * n magnitudes of the tensor
  Outliers,   // breadcrumbs: drop the top gamma * n, then the smallest, to keep density * n
  Random,     // dare: keep each entry with probability density
  Della,      // della: keep probability grows with the entry's magnitude rank in its row
};

struct TaskVectorSpec {
  std::string name;
  Sparsifier sparsifier = Sparsifier::None;
  bool consensus = false;  // TIES sign election
  bool default_normalize = false;
  bool default_rescale = false;
};

std::unique_ptr<Method> make_task_vector_method(TaskVectorSpec spec);

}  // namespace cocktail
