#pragma once
// The methods of this folder; registry.cpp lists them by name.
#include "merge/methods/method.hpp"

namespace cocktail {

const Method& linear_method();
const Method& task_arithmetic_method();
const Method& ties_method();
const Method& dare_linear_method();
const Method& dare_ties_method();
const Method& breadcrumbs_method();
const Method& breadcrumbs_ties_method();
const Method& della_method();
const Method& della_linear_method();
const Method& slerp_method();
const Method& nearswap_method();
const Method& model_stock_method();
const Method& nuslerp_method();
const Method& multislerp_method();
const Method& karcher_method();
const Method& passthrough_method();
const Method& sce_method();
const Method& arcee_fusion_method();
const Method& ram_method();
const Method& ramplus_tl_method();

}  // namespace cocktail
