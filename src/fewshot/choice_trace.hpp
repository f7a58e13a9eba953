#pragma once
// What a choice of weights by merged models (weight search, greedy soup:
// src/search/) records: every merged model it evaluated and which it chose.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <limits>
#include <string>
#include <vector>

namespace cocktail {

// A merged model's few-shot loss on the batches that choose the weights and
// on the held-out ones.
struct MergedLoss {
  double train = 0;
  double held_out = std::numeric_limits<double>::quiet_NaN();  // NaN: nothing held out
};

struct ChoiceStep {
  // One per candidate, as merged; with layer groups, group after group
  // ([g * candidates + c]).
  std::vector<double> weights;
  std::vector<double> density;  // one per candidate where search.density is searched, else empty
  MergedLoss loss;
  double objective = 0;  // what the choice minimised (search: loss + l1 * mean |w|)
  std::string note;      // greedy soup: what the step tried
};

struct WeightChoiceTrace {
  std::string how;                // "search (cobyla)", "greedy soup"
  size_t layer_groups = 1;        // rows of weights per step
  // With layer groups: each group's decoder layers [begin, end).
  std::vector<std::pair<int64_t, int64_t>> layer_ranges;
  std::vector<ChoiceStep> steps;  // every evaluation, in order
  size_t best = 0;                // the chosen step
  std::string stopped;            // why the choice ended
  MergedLoss softmax;             // LM-Cocktail's softmax recipe merged, for comparison
  // The cost of the evaluations after the softmax recipe's, over all ranks:
  // checkpoint bytes read (0 once the cache holds every candidate), slowest rank.
  double bytes_read = 0, seconds = 0;
  // Ranks each evaluation's layers were split over as pipeline stages (1:
  // every rank ran every layer for its share of the batches).
  int stages = 1;
};

}  // namespace cocktail
