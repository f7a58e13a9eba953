#include "merge/methods/registry.hpp"

#include <vector>

namespace cocktail {
namespace {

const std::vector<const Method*>& all_methods() {
  static const std::vector<const Method*> methods = {
      &linear_method(),          &task_arithmetic_method(), &ties_method(),        &dare_linear_method(),      &dare_ties_method(),
      &breadcrumbs_method(),     &breadcrumbs_ties_method(), &della_method(),       &della_linear_method(),
      &slerp_method(),           &nearswap_method(),
      &model_stock_method(),     &nuslerp_method(),         &multislerp_method(),       &karcher_method(),
      &passthrough_method(),      &sce_method(),            &arcee_fusion_method(),
      &ram_method(),              &ramplus_tl_method(),
  };
  return methods;
}

}  // namespace

const Method* find_method(std::string_view name) {
  for (const Method* m : all_methods())
    if (m->name() == name) return m;
  return nullptr;
}

std::string method_list() {
  std::string list = "lm_cocktail";
  for (const Method* m : all_methods()) list += ", " + std::string(m->name());
  return list;
}

}  // namespace cocktail
