// The pieces the task-vector methods' statistics are made of, against the
// plain definitions they replace: exact sums against long double sums in
// every order, exact dot products against exact integer sums, the radix cut against a stable sort, Philox against its
// published known-answer vectors, and mergekit's gradient interpolation.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>

#include "bernoulli_mask.hpp"
#include "exact_dot.hpp"
#include "exact_sum.hpp"
#include "merge/methods/magnitude_select.hpp"
#include "merge/methods/parameters.hpp"
#include "plan/layer_names.hpp"
#include "philox.hpp"
#include "task_vector_math.hpp"

namespace cocktail {
namespace {

TEST(ExactSum, IsExactAndIndependentOfOrder) {
  std::mt19937 rng(5);
  std::vector<float> v;
  for (int i = 0; i < 20000; ++i) v.push_back(std::ldexp(float(rng() % 1000000), int(rng() % 60) - 70));
  v.push_back(1e-45f);  // a subnormal
  v.push_back(3e38f);
  ExactSum forward, backward, halves[2];
  for (float x : v) forward.add(x);
  for (size_t i = v.size(); i-- > 0;) backward.add(v[i]);
  for (size_t i = 0; i < v.size(); ++i) halves[i % 2].add(v[i]);
  halves[0].add(halves[1]);
  EXPECT_EQ(forward.value(), backward.value());
  EXPECT_EQ(forward.value(), halves[0].value());
  // 3e38 dominates; the rest is below double's resolution of it only partly,
  // so compare with a sum of the small values added to it at the end.
  long double small = 0;
  for (size_t i = 0; i + 1 < v.size(); ++i) small += v[i];
  EXPECT_EQ(forward.value(), double((long double)3e38f + small));
}

std::vector<uint64_t> dot_bins() { return std::vector<uint64_t>(ExactDot::kSize, 0); }

// Products of small integers times powers of two, whose sum __int128 holds
// exactly; in every order, with a cancellation plain float sums lose.
TEST(ExactDot, IsExactSignedAndIndependentOfOrder) {
  std::mt19937 rng(9);
  std::vector<float> x, y;
  for (int i = 0; i < 20000; ++i) {
    x.push_back(std::ldexp(float(int(rng() % 4001) - 2000), -int(rng() % 8)));
    y.push_back(std::ldexp(float(int(rng() % 4001) - 2000), -int(rng() % 8)));
  }
  __int128 exact = 0;  // in units of 2^-14
  for (size_t j = 0; j < x.size(); ++j) exact += (__int128)std::ldexp(double(x[j]) * double(y[j]), 14);
  auto forward = dot_bins(), backward = dot_bins(), odd = dot_bins();
  for (size_t j = 0; j < x.size(); ++j) ExactDot::add_product((j % 2 ? odd : forward).data(), x[j], y[j]);
  for (size_t k = 0; k < forward.size(); ++k) forward[k] += odd[k];
  for (size_t j = x.size(); j-- > 0;) ExactDot::add_product(backward.data(), x[j], y[j]);
  EXPECT_EQ(forward, backward);
  EXPECT_EQ(ExactDot::value(forward.data()), std::ldexp(double(exact), -14));

  auto c = dot_bins();
  ExactDot::add_product(c.data(), 1e30f, 1e30f);
  ExactDot::add_product(c.data(), 3.0f, -0.5f);
  ExactDot::add_product(c.data(), -1e30f, 1e30f);
  ExactDot::add_product(c.data(), 1e-45f, 1e-45f);  // subnormal times subnormal: 2^-298
  EXPECT_EQ(ExactDot::value(c.data()), -1.5 + std::ldexp(1.0, -298));
}

// The CPU's blocked path gives add_product's integers, non-finite included.
TEST(ExactDot, BlockEqualsAddingOneByOne) {
  std::mt19937 rng(4);
  std::vector<float> x(40000), y(40000);
  for (size_t j = 0; j < x.size(); ++j) {
    x[j] = j % 5000 == 7 ? INFINITY : std::ldexp(float(int(rng() % 200001) - 100000), int(rng() % 280) - 200);
    y[j] = j % 7000 == 3 ? std::nanf("") : std::ldexp(float(int(rng() % 200001) - 100000), int(rng() % 280) - 200);
  }
  auto one = std::vector<uint64_t>(2 * ExactDot::kSize, 0), blocked = one;
  auto block = std::make_unique<ExactDot::Block>(2);
  for (size_t j = 0; j < x.size(); ++j) {
    ExactDot::add_product(one.data(), x[j], y[j]);
    ExactDot::add_product(one.data() + ExactDot::kSize, x[j], x[j]);
  }
  for (size_t first = 0; first < x.size(); first += 10000) {
    block->add(0, x.data() + first, y.data() + first, 10000, blocked.data());
    block->add(1, x.data() + first, x.data() + first, 10000, blocked.data());
    block->flush(blocked.data());
  }
  EXPECT_TRUE(std::isnan(ExactDot::value(blocked.data())));
  EXPECT_EQ(ExactDot::value(blocked.data() + ExactDot::kSize), INFINITY);
  for (int k = ExactDot::kPosInf; k < ExactDot::kSize; ++k) EXPECT_EQ(blocked[k], one[k]) << k;
  // The halves may be split differently; the integers they stand for are equal.
  for (int b = 0; b < ExactDot::kExponents; ++b)
    EXPECT_EQ(blocked[2 * b] * 0x1000000 + blocked[2 * b + 1], one[2 * b] * 0x1000000 + one[2 * b + 1]) << b;
  // Without the non-finite products, the finite sums themselves.
  auto finite = std::vector<uint64_t>(2 * ExactDot::kSize, 0), finite_blocked = finite;
  std::vector<float> fx, fy;
  for (size_t j = 0; j < x.size(); ++j) {
    if (!std::isfinite(x[j]) || !std::isfinite(y[j])) continue;
    ExactDot::add_product(finite.data(), x[j], y[j]);
    fx.push_back(x[j]);
    fy.push_back(y[j]);
  }
  block->add(0, fx.data(), fy.data(), fx.size(), finite_blocked.data());
  block->flush(finite_blocked.data());
  EXPECT_EQ(ExactDot::value(finite_blocked.data()), ExactDot::value(finite.data()));
  EXPECT_NE(ExactDot::value(finite.data()), 0.0);
}

TEST(ExactDot, NonFiniteProducts) {
  auto v = dot_bins();
  ExactDot::add_product(v.data(), INFINITY, 2.0f);
  EXPECT_EQ(ExactDot::value(v.data()), INFINITY);
  ExactDot::add_product(v.data(), -INFINITY, 2.0f);
  EXPECT_TRUE(std::isnan(ExactDot::value(v.data())));
  auto z = dot_bins();
  ExactDot::add_product(z.data(), INFINITY, 0.0f);
  EXPECT_TRUE(std::isnan(ExactDot::value(z.data())));
  auto n = dot_bins();
  ExactDot::add_product(n.data(), 1.0f, std::nanf(""));
  EXPECT_TRUE(std::isnan(ExactDot::value(n.data())));
}

TEST(ExactSum, AddMagnitudesEqualsAddingOneByOne) {
  std::mt19937 rng(2);
  std::vector<float> x(3001);
  std::vector<uint8_t> keep(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    x[j] = (j % 97 == 0) ? -INFINITY : (j % 101 == 0) ? std::nanf("") : std::ldexp(float(int(rng() % 20001) - 10000), int(rng() % 200) - 150);
    keep[j] = rng() % 2;
  }
  ExactSum all, kept, one_all, one_kept;
  all.add_magnitudes(x.data(), x.size(), keep.data(), &kept);
  for (size_t j = 0; j < x.size(); ++j) {
    one_all.add(std::fabs(x[j]));
    if (keep[j]) one_kept.add(std::fabs(x[j]));
  }
  EXPECT_TRUE(std::equal(all.bins, all.bins + ExactSum::kSize, one_all.bins));
  EXPECT_TRUE(std::equal(kept.bins, kept.bins + ExactSum::kSize, one_kept.bins));
}

TEST(ExactSum, CountsAndNonFinite) {
  ExactSum s;
  s.add(0.1f, 1000);
  EXPECT_EQ(s.value(), double(0.1f) * 1000);
  s.add(INFINITY);
  EXPECT_TRUE(std::isinf(s.value()));
  s.add(std::nanf(""));
  EXPECT_TRUE(std::isnan(s.value()));
}

// Elements of ranks [0, c) in largest-first order, equal magnitudes by index.
std::vector<uint8_t> by_sort(const std::vector<float>& d, uint64_t c) {
  std::vector<uint32_t> order(d.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return magnitude_key(d[a]) > magnitude_key(d[b]); });
  std::vector<uint8_t> keep(d.size(), 0);
  for (uint64_t r = 0; r < c; ++r) keep[order[r]] = 1;
  return keep;
}

TEST(MagnitudeCut, EqualsAStableSortWithManyTies) {
  std::mt19937 rng(9);
  std::vector<float> d(5000);
  for (auto& x : d) x = float(int(rng() % 21) - 10) * 0.25f;  // few distinct magnitudes, both signs
  for (uint64_t c : {1ull, 7ull, 999ull, 2500ull, 4999ull}) {
    MagnitudeCut cut = MagnitudeCut::at(c, d.size());
    std::vector<uint64_t> high(kHighBins, 0), low(kLowBins, 0);
    for (float x : d) ++high[magnitude_key(x) >> 16];
    cut.choose_bin(high.data());
    for (float x : d)
      if ((magnitude_key(x) >> 16) == cut.high_bin) ++low[magnitude_key(x) & 0xFFFF];
      else if ((magnitude_key(x) >> 16) > cut.high_bin) cut.above_bin_sum.add(std::fabs(x));
    cut.choose_threshold(low.data());
    cut.ties_before_unit = {0};
    uint64_t ties = 0;
    std::vector<uint8_t> keep;
    for (float x : d) {
      keep.push_back(cut.keeps(magnitude_key(x), ties));
      ties += magnitude_key(x) == cut.threshold;
    }
    EXPECT_EQ(keep, by_sort(d, c)) << "c = " << c;
    ExactSum kept;
    for (size_t i = 0; i < d.size(); ++i)
      if (keep[i]) kept.add(std::fabs(d[i]));
    EXPECT_EQ(cut.kept_sum.value(), kept.value()) << "c = " << c;
  }
}

TEST(Philox, KnownAnswers) {
  // Random123's kat_vectors, philox4x32_10 with counter 0 and key 0.
  const PhiloxBlock zero = philox4x32_10({0, 0}, 0, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  const PhiloxKey ones{0xffffffffu, 0xffffffffu};
  EXPECT_EQ(philox4x32_10(ones, 1, 2, 3).v[2], philox4x32_10(ones, 1, 2, 3).v[2]);
  EXPECT_NE(philox4x32_10(ones, 1, 2, 3).v[0], philox4x32_10(ones, 2, 2, 3).v[0]);
  const PhiloxKey k = philox_key(42, "model.layers.0.mlp.up_proj.weight");
  double mean = 0;
  for (uint64_t i = 0; i < 100000; ++i) mean += philox_uniform(k, 1, i);
  EXPECT_NEAR(mean / 100000, 0.5, 0.005);
}

// The vectorised block combine gives task_vector_element's bits, for both
// combines, with and without rescale, normalize and lambda, on values with
// zeros, signed zeros, NaN, Inf and dropped entries.
TEST(TaskVectorBlock, EqualsTheElementFunction) {
  std::mt19937 rng(3);
  const size_t n = 1000;
  for (int variant = 0; variant < 16; ++variant) {
    TaskVectorArgs a;
    a.models = 1 + variant % 4;
    a.consensus = variant & 1;
    a.normalize = variant & 2;
    a.scale_by_lambda = variant & 4;
    a.lambda = 0.7f;
    for (int i = 0; i < a.models; ++i) {
      a.weight[i] = (i == 1 && (variant & 8)) ? -0.5f : 0.25f + 0.1f * i;
      a.rescaled[i] = i % 2 == 0;
      a.scale[i] = 1.37f;
    }
    a.linear_divisor = (variant & 8) ? 1.0f : 0.9f;
    std::vector<float> base(n), out(n), v(a.models * n);
    std::vector<std::vector<float>> x(a.models, std::vector<float>(n));
    std::vector<std::vector<uint8_t>> keep(a.models, std::vector<uint8_t>(n));
    const float specials[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f};
    for (size_t j = 0; j < n; ++j) {
      base[j] = (rng() % 7 == 0) ? specials[rng() % 6] : float(int(rng() % 2001) - 1000) / 997.0f;
      for (int i = 0; i < a.models; ++i) {
        x[i][j] = (rng() % 11 == 0) ? base[j] : (rng() % 13 == 0) ? specials[rng() % 6] : base[j] + float(int(rng() % 201) - 100) / 1009.0f;
        keep[i][j] = rng() % 3 != 0;
      }
    }
    std::vector<const float*> xs;
    std::vector<const uint8_t*> ks;
    for (int i = 0; i < a.models; ++i) xs.push_back(x[i].data()), ks.push_back(keep[i].data());
    task_vector_block(a, base.data(), xs.data(), ks.data(), v.data(), out.data(), n);
    for (size_t j = 0; j < n; ++j) {
      float xj[kMaxTaskVectorModels];
      bool kj[kMaxTaskVectorModels];
      for (int i = 0; i < a.models; ++i) xj[i] = x[i][j], kj[i] = keep[i][j];
      const float want = task_vector_element(a, base[j], xj, kj);
      ASSERT_EQ(f32_bits(canonicalize_nan(out[j])), f32_bits(canonicalize_nan(want)))
          << "variant " << variant << " element " << j;
    }
  }
}

// DARE's mask: the vector path, the portable path and philox_uniform
// element by element agree, from any first element (units start anywhere),
// including where a counter's low word wraps.
TEST(BernoulliMask, EveryPathIsPhiloxUniformElementByElement) {
  const PhiloxKey key = philox_key(7, "w");
  for (uint64_t first : std::vector<uint64_t>{0, 1, 3, 37, 1000003, (uint64_t(1) << 34) - 21}) {
    for (size_t n : std::vector<size_t>{0, 1, 5, 31, 32, 33, 1000}) {
      std::vector<uint8_t> fast(n), portable(n);
      bernoulli_mask(key, 2, first, n, 0.37f, fast.data());
      bernoulli_mask_portable(key, 2, first, n, 0.37f, portable.data());
      for (size_t j = 0; j < n; ++j) {
        const uint8_t want = philox_uniform(key, 2, first + j) < 0.37f;
        ASSERT_EQ(fast[j], want) << first << " + " << j;
        ASSERT_EQ(portable[j], want) << first << " + " << j;
      }
    }
  }
}

TEST(LayerStack, PositionsAsMergekit) {
  const LayerStack s({"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight",
                      "model.layers.3.mlp.up_proj.weight", "lm_head.weight"});
  EXPECT_EQ(s.layers, 4);
  EXPECT_EQ(s.position("model.embed_tokens.weight"), 0.0);
  EXPECT_EQ(s.position("model.layers.3.self_attn.q_proj.weight"), 1.0);
  EXPECT_DOUBLE_EQ(s.position("model.layers.1.input_layernorm.weight"), 1.0 / 3);
  EXPECT_EQ(LayerStack({"encoder.layer.0.x"}).position("encoder.layer.0.x"), 1.0);  // one layer: t = 1
}

TEST(LayerNames, RenamesTheLayerIndexOnly) {
  EXPECT_EQ(with_layer("model.layers.3.mlp.up_proj.weight", 12), "model.layers.12.mlp.up_proj.weight");
  EXPECT_EQ(with_layer("transformer.h.10.attn.c_attn.weight", 2), "transformer.h.2.attn.c_attn.weight");
  EXPECT_EQ(with_layer("encoder.layer.0.x", 7), "encoder.layer.7.x");
  EXPECT_EQ(layer_index("model.layers.31.mlp.experts.7.w1.weight"), 31);  // the first index: the layer's
  EXPECT_EQ(with_layer("model.layers.31.mlp.experts.7.w1.weight", 4), "model.layers.4.mlp.experts.7.w1.weight");
  EXPECT_FALSE(layer_index("model.norm.weight"));
  EXPECT_TRUE(before_layers("model.embed_tokens.weight"));
  EXPECT_TRUE(before_layers("transformer.wte.weight"));
  EXPECT_FALSE(before_layers("lm_head.weight"));
  EXPECT_FALSE(before_layers("model.norm.weight"));
}

}  // namespace
}  // namespace cocktail
