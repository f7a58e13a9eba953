// Model breadcrumbs (Davari and Belilovsky 2024, arXiv 2312.06795): per
// tensor drop the largest gamma * n magnitudes of each task vector as
// outliers, then the smallest, keeping density * n. breadcrumbs_ties adds
// TIES' sign election.
#include "merge/methods/registry.hpp"
#include "merge/methods/task_vector.hpp"

namespace cocktail {

const Method& breadcrumbs_method() {
  static const auto m = make_task_vector_method({"breadcrumbs", Sparsifier::Outliers, false, false, false});
  return *m;
}

const Method& breadcrumbs_ties_method() {
  static const auto m = make_task_vector_method({"breadcrumbs_ties", Sparsifier::Outliers, true, false, false});
  return *m;
}

}  // namespace cocktail
