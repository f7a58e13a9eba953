#pragma once
// The few-shot step's second half when the job asks for weights chosen by
// merged models (weights: search or greedy_soup): after each candidate's own
// loss (compute_fewshot_weights), evaluate merged models of the candidates
// and replace the softmax weights by the chosen ones.
#include <ostream>
#include <vector>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "fewshot/fewshot_weights.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

// The settings that depend on the candidates' layers (a cache below one
// layer of every candidate, more layer groups than layers), checked from the
// headers before anything is scored; throws cocktail::Error naming the key.
void check_weight_choice(const Job& job, const std::vector<Checkpoint>& models);

// Collective; fills fewshot.choice and fewshot.weights, adds the bytes and
// time the evaluations took. Rank 0 prints a progress line per evaluation to
// `progress` when it is given. Nothing to do for weights: softmax.
// `threads`: the merge kernels' of a method of src/merge/methods/.
void choose_weights(Comm& comm, const Job& job, const std::vector<Checkpoint>& models, int gpu, int threads,
                    FewShotResult& fewshot, std::ostream* progress);

}  // namespace cocktail
