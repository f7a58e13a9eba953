#pragma once

namespace cocktail {

// How a candidate's loss is formed from its batches.
enum class LossReduction {
  Upstream,   // mean over batches of each batch's token mean (the authors' code)
  TokenMean,  // all scored tokens weighted equally
};

}  // namespace cocktail
