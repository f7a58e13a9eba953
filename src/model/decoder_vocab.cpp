#include "model/decoder_vocab.hpp"

#include <algorithm>
#include <limits>

namespace cocktail {

std::vector<RowRange> row_slices(int64_t rows, int64_t max_rows) {
  std::vector<RowRange> out;
  for (int64_t b = 0; b < rows; b += max_rows) out.emplace_back(b, std::min(rows, b + max_rows));
  return out;
}

std::vector<RowRange> id_runs(const std::vector<int64_t>& ids, int64_t max_rows) {
  std::vector<RowRange> out;
  for (int64_t id : ids) {
    if (!out.empty() && out.back().second == id && id - out.back().first < max_rows) {
      out.back().second = id + 1;
    } else {
      out.emplace_back(id, id + 1);
    }
  }
  return out;
}

std::vector<torch::Tensor> embed_batches(WeightStream& stream, const std::string& name,
                                         const std::vector<torch::Tensor>& input_ids,
                                         const std::vector<RowRange>& ranges, int64_t hidden_size,
                                         torch::Device device) {
  std::vector<torch::Tensor> out;
  for (const torch::Tensor& ids : input_ids) {
    out.push_back(torch::zeros({ids.size(0), ids.size(1), hidden_size},
                               torch::TensorOptions().dtype(torch::kFloat).device(device)));
  }
  for (const auto& [begin, end] : ranges) {
    {
      const torch::Tensor rows = stream.load_rows(name, begin, end);
      for (size_t b = 0; b < input_ids.size(); ++b) {
        const torch::Tensor flat = input_ids[b].reshape({-1});
        const torch::Tensor at = flat.ge(begin).logical_and(flat.lt(end)).nonzero().squeeze(1);
        if (at.numel() == 0) continue;
        out[b].view({-1, hidden_size}).index_copy_(0, at, rows.index_select(0, flat.index_select(0, at) - begin));
      }
    }
    stream.release();
  }
  return out;
}

ScoredTokens scored_tokens(const torch::Tensor& final_hidden, const torch::Tensor& labels) {
  const int64_t t = labels.size(1);
  if (t < 2) {
    return {final_hidden.new_empty({0, final_hidden.size(2)}), labels.new_empty({0})};
  }
  // Position i predicts token i + 1.
  const torch::Tensor target = labels.narrow(1, 1, t - 1);
  const torch::Tensor scored = target.ne(-100);
  return {final_hidden.narrow(1, 0, t - 1).index({scored}), target.index({scored})};
}

std::vector<BatchLoss> output_losses(WeightStream& stream, const std::string& name,
                                     const std::vector<ScoredTokens>& scored,
                                     const std::vector<RowRange>& ranges,
                                     std::optional<double> softcap) {
  // Per batch and token: running max of the logits, sum of exp(logit - max),
  // and the target's logit once its slice has been seen.
  std::vector<torch::Tensor> max, sumexp, target_logit;
  for (const ScoredTokens& s : scored) {
    const int64_t n = s.target.size(0);
    const auto opts = s.hidden.options();
    max.push_back(torch::full({n}, -std::numeric_limits<float>::infinity(), opts));
    sumexp.push_back(torch::zeros({n}, opts));
    target_logit.push_back(torch::zeros({n}, opts));
  }
  for (const auto& [begin, end] : ranges) {
    {
      const torch::Tensor rows = stream.load_rows(name, begin, end);
      for (size_t b = 0; b < scored.size(); ++b) {
        const ScoredTokens& s = scored[b];
        if (s.target.size(0) == 0) continue;
        torch::Tensor logits = torch::linear(s.hidden, rows);  // [N, end - begin]
        if (softcap) logits = torch::tanh(logits / *softcap) * *softcap;
        const torch::Tensor new_max = torch::maximum(max[b], std::get<0>(logits.max(1)));
        sumexp[b] = sumexp[b] * torch::exp(max[b] - new_max) + torch::exp(logits - new_max.unsqueeze(1)).sum(1);
        max[b] = new_max;
        const torch::Tensor at = s.target.ge(begin).logical_and(s.target.lt(end)).nonzero().squeeze(1);
        if (at.numel() == 0) continue;
        const torch::Tensor column = (s.target.index_select(0, at) - begin).unsqueeze(1);
        target_logit[b].index_copy_(0, at, logits.index_select(0, at).gather(1, column).squeeze(1));
      }
    }
    stream.release();
  }
  std::vector<BatchLoss> out;
  for (size_t b = 0; b < scored.size(); ++b) {
    const torch::Tensor token_loss = max[b] + torch::log(sumexp[b]) - target_logit[b];
    out.push_back({token_loss.to(torch::kDouble).sum().item<double>(), scored[b].target.size(0)});
  }
  return out;
}

}  // namespace cocktail
