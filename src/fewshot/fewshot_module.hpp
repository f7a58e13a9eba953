#pragma once
// The few-shot step and the weight search as one shared module,
// libcocktail_fewshot.so beside cocktail_dist, loaded the first time a job
// needs it. They link libtorch, whose loading and static initialisation take
// half a second; inspect, --dry-run and a plain merge never pay it.
//
// The module holds its own copy of the libraries below it (io, engine, ...):
// objects cross the boundary by reference or value with one layout, since
// both sides are built from the same sources in one build.
#include <ostream>
#include <vector>

#include "config/job.hpp"
#include "dist/comm.hpp"
#include "fewshot/fewshot_result.hpp"
#include "io/checkpoint.hpp"

namespace cocktail {

struct FewShotModule {
  // fewshot/fewshot_weights.hpp and search/choose_weights.hpp.
  bool (*forward_on_gpu)(int gpu);
  void (*check_weight_choice)(const Job& job, const std::vector<Checkpoint>& models);
  FewShotResult (*compute_weights)(Comm& comm, const Job& job, const std::vector<Checkpoint>& models, int threads,
                                   int gpu);
  void (*choose_weights)(Comm& comm, const Job& job, const std::vector<Checkpoint>& models, int gpu, int threads,
                         FewShotResult& fewshot, std::ostream* progress);
};

// The name the module exports its table under (extern "C").
inline constexpr const char* kFewShotModuleSymbol = "cocktail_fewshot_module";
inline constexpr const char* kFewShotModuleFile = "libcocktail_fewshot.so";

}  // namespace cocktail
