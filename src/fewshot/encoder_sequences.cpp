#include "fewshot/encoder_sequences.hpp"

#include <algorithm>
#include <numeric>

namespace cocktail {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<int64_t> encode_truncated(const Tokenizer& tokenizer, const std::string& text,
                                      size_t max_len) {
  std::vector<int64_t> full = tokenizer.encode(text, true);
  if (full.size() <= max_len) return full;
  // The template wraps the content: find it to know what is prefix and suffix.
  const std::vector<int64_t> content = tokenizer.encode(text, false);
  const auto at = std::search(full.begin(), full.end(), content.begin(), content.end());
  const size_t prefix = at == full.end() ? 0 : static_cast<size_t>(at - full.begin());
  const size_t suffix = full.size() - prefix - content.size();
  const size_t keep = max_len > prefix + suffix ? max_len - prefix - suffix : 0;
  std::vector<int64_t> out(full.begin(), full.begin() + static_cast<ptrdiff_t>(prefix));
  out.insert(out.end(), content.begin(), content.begin() + static_cast<ptrdiff_t>(keep));
  out.insert(out.end(), full.end() - static_cast<ptrdiff_t>(suffix), full.end());
  return out;
}

std::vector<size_t> sample_negatives(size_t count, size_t neg_number, uint64_t seed,
                                     size_t example_index) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = splitmix64(seed ^ splitmix64(example_index));
  for (size_t i = 0; i < neg_number && i < count; ++i) {  // partial Fisher-Yates
    state = splitmix64(state);
    std::swap(order[i], order[i + state % (count - i)]);
  }
  order.resize(std::min(neg_number, count));
  return order;
}

std::vector<EncoderRows> encoder_batches(const Tokenizer& tokenizer,
                                         const std::vector<EncoderExample>& examples,
                                         size_t neg_number, size_t max_input_length,
                                         size_t batch_size, uint64_t seed) {
  std::vector<EncoderRows> batches;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i % batch_size == 0) batches.emplace_back();
    EncoderRows& b = batches.back();
    const EncoderExample& e = examples[i];
    b.queries.push_back(encode_truncated(tokenizer, e.query, max_input_length));
    b.passages.push_back(encode_truncated(tokenizer, e.pos, max_input_length));
    for (size_t n : sample_negatives(e.neg.size(), neg_number, seed, i))
      b.passages.push_back(encode_truncated(tokenizer, e.neg[n], max_input_length));
  }
  return batches;
}

}  // namespace cocktail
