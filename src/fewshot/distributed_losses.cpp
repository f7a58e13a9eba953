#include "fewshot/distributed_losses.hpp"

#include "core/error.hpp"
#include "fewshot/loss_plan.hpp"

namespace cocktail {

std::vector<BatchPartial> local_partials(size_t candidates, size_t batches, int ranks, int rank,
                                         const BatchEvaluator& evaluate) {
  std::vector<BatchPartial> partials(candidates * batches);
  for (const LossItem& item : loss_items_for_rank(candidates, batches, ranks, rank)) {
    const std::vector<BatchPartial> got = evaluate(item.candidate, item.first_batch, item.batch_count);
    if (got.size() != item.batch_count)
      throw Error("few-shot evaluation returned " + std::to_string(got.size()) + " batches, expected " +
                  std::to_string(item.batch_count));
    for (size_t b = 0; b < got.size(); ++b)
      partials[item.candidate * batches + item.first_batch + b] = got[b];
  }
  return partials;
}

void allreduce_partials(Comm& comm, std::vector<BatchPartial>& partials) {
  std::vector<double> flat;
  flat.reserve(2 * partials.size());
  for (const BatchPartial& p : partials) {
    flat.push_back(p.loss_sum);
    flat.push_back(p.count);
  }
  comm.allreduce_sum(flat);
  for (size_t i = 0; i < partials.size(); ++i) partials[i] = {flat[2 * i], flat[2 * i + 1]};
}

}  // namespace cocktail
