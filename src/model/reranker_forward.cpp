#include "model/reranker_forward.hpp"

#include "core/error.hpp"

namespace cocktail {

std::vector<TensorSpec> reranker_head_specs(const EncoderConfig& cfg, const EncoderTensorNames& names) {
  const int64_t h = cfg.hidden_size;
  // transformers' heads: RobertaClassificationHead (dense, tanh, out_proj) on
  // the first token; BERT's pooler (dense, tanh) then its classifier.
  if (cfg.model_type == "xlm-roberta") {
    return {{"classifier.dense.weight", {h, h}},
            {"classifier.dense.bias", {h}},
            {"classifier.out_proj.weight", {1, h}},
            {"classifier.out_proj.bias", {1}}};
  }
  return {{names.prefix() + "pooler.dense.weight", {h, h}},
          {names.prefix() + "pooler.dense.bias", {h}},
          {"classifier.weight", {1, h}},
          {"classifier.bias", {1}}};
}

std::vector<EncoderBatchLoss> reranker_batch_losses(WeightSource& weights, const EncoderConfig& cfg,
                                                    const std::vector<RerankerBatch>& batches,
                                                    torch::Device device, ForwardStats* stats) {
  const Checkpoint& ckpt = weights.layout();
  torch::NoGradGuard no_grad;
  const EncoderTensorNames names(ckpt);
  check_encoder_tensors(ckpt, cfg, names);
  const std::vector<TensorSpec> head = reranker_head_specs(cfg, names);
  check_tensor_shapes(ckpt, head, cfg.model_type + " reranker, one label");
  std::vector<EncoderRowsTensor> groups;
  for (size_t i = 0; i < batches.size(); ++i) {
    const RerankerBatch& b = batches[i];
    const std::string where = "batch " + std::to_string(i);
    const int64_t rows = b.ids.defined() && b.ids.dim() == 2 ? b.ids.size(0) : -1;
    if (b.group_size < 1 || rows < 0 || rows % b.group_size != 0)
      throw Error(where + ": " + std::to_string(rows) + " pairs are not whole groups of " +
                  std::to_string(b.group_size) + " (a positive and the negatives per query)");
    groups.push_back({b.ids, b.mask, b.type_ids, "pair", where});
  }
  WeightStream stream(weights, device);
  int64_t layer_bytes = 0;
  const std::vector<torch::Tensor> hidden =
      encoder_hidden_states(cfg, names, groups, device, stream, layer_bytes);

  const torch::Tensor dense = stream.load(head[0].name), dense_bias = stream.load(head[1].name);
  const torch::Tensor out = stream.load(head[2].name), out_bias = stream.load(head[3].name);
  std::vector<EncoderBatchLoss> losses;
  for (size_t b = 0; b < batches.size(); ++b) {
    const torch::Tensor first = hidden[b].select(1, 0);
    const torch::Tensor logits = torch::linear(torch::tanh(torch::linear(first, dense, dense_bias)), out, out_bias);
    const int64_t g = batches[b].group_size, queries = logits.size(0) / g;
    const torch::Tensor scores = logits.view({queries, g});
    const torch::Tensor target = torch::zeros({queries}, torch::TensorOptions().dtype(torch::kLong).device(device));
    const torch::Tensor sum = torch::nn::functional::cross_entropy(
        scores, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    losses.push_back({sum.item<double>(), queries});
  }
  stream.release();
  stream.report(layer_bytes, stats);
  return losses;
}

}  // namespace cocktail
