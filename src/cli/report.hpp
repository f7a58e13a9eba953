#pragma once
// What rank 0 tells the user: the plan of a dry run, the end-of-job summary,
// and merge_report.json written beside the weights.
#include <ostream>
#include <string>
#include <vector>

#include "config/job.hpp"
#include "fewshot/fewshot_result.hpp"
#include "io/side_files.hpp"
#include "merge/methods/method.hpp"
#include "merge/recipe.hpp"
#include "plan/merge_plan.hpp"

namespace cocktail {

// Totals over all ranks, gathered after the merge.
struct JobTotals {
  double bytes_read = 0, bytes_written = 0, units = 0;
  double merge_seconds = 0;                 // slowest rank's streaming time
  std::string compute;                      // where rank 0 summed: "cpu (avx512)", "cuda:0"
  std::string compute_note;                 // why not a GPU, when `auto` found none here
  double gpu_ranks = 0;                     // ranks that summed on a GPU
  double skipped_units = 0, skipped_bytes = 0;  // already in the output (resume)
  double total_seconds = 0;                 // rank 0, start to publish
  std::vector<double> peak_rss_bytes;       // per rank
  std::vector<double> nonfinite;            // as StreamStats::nonfinite
  std::vector<double> differs;              // per tensor, > 0 when an integer tensor differs
};

// A method's resolved parameters: each distinct setting with a few of the
// tensors that get it.
void print_parameters(std::ostream& out, const PreparedMethod& method, const MergePlan& plan);

void print_plan(std::ostream& out, const Job& job, const MergeRecipe& recipe,
                const MergePlan& plan, int ranks);

// Warnings about the data (NaN/Inf read, integer tensors that differ).
std::vector<std::string> data_warnings(const Job& job, const MergeRecipe& recipe,
                                       const MergePlan& plan, const JobTotals& totals);

void print_summary(std::ostream& out, const Job& job, const MergeRecipe& recipe,
                   const MergePlan& plan, const JobTotals& totals);

// `side_files` gives the remote-code warning and the reference's files that
// were not copied, with the reason for each.
std::string merge_report_json(const Job& job, const MergeRecipe& recipe, const MergePlan& plan,
                              const JobTotals& totals, const FewShotResult* fewshot, const SideFiles& side_files);

// The candidates' losses and weights as a table (rank 0, before the merge).
void print_fewshot(std::ostream& out, const Job& job, const FewShotResult& fewshot);

// "name=loss, ..." for the shard metadata.
std::string losses_text(const Job& job, const FewShotResult& fewshot);

// A plain job with the weights a search or soup chose (linear for
// lm_cocktail, else the job's method with each model's chosen weight and
// density): it merges the same output without evaluating anything.
std::string chosen_recipe_yaml(const Job& job, const FewShotResult& fewshot);

// "name=weight" pairs, for the shard metadata and the summary.
std::string weights_text(const Job& job, const MergeRecipe& recipe);

}  // namespace cocktail
