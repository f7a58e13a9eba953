#include "search/weight_choice.hpp"

#include <nlopt.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>

#include "core/error.hpp"

namespace cocktail {
namespace {

struct Algorithm {
  const char* name;
  nlopt_algorithm id;
};
// kSearchAlgorithms' names. Derivative-free: the loss of a merged model has
// no gradient here.
constexpr Algorithm kAlgorithms[] = {
    {"cobyla", NLOPT_LN_COBYLA}, {"bobyqa", NLOPT_LN_BOBYQA}, {"neldermead", NLOPT_LN_NELDERMEAD},
    {"sbplx", NLOPT_LN_SBPLX},   {"praxis", NLOPT_LN_PRAXIS}, {"crs2", NLOPT_GN_CRS2_LM},
    {"isres", NLOPT_GN_ISRES},   {"esch", NLOPT_GN_ESCH},
};

nlopt_algorithm algorithm_of(const std::string& name) {
  for (const Algorithm& a : kAlgorithms)
    if (name == a.name) return a.id;
  throw Error("internal: search.algorithm '" + name + "' passed the config check");
}

// The weights of search variables x (group after group), each group's on
// the simplex when asked.
std::vector<double> weights_of(const std::vector<double>& x, size_t groups, bool simplex) {
  if (!simplex) return x;
  const size_t n = x.size() / groups;
  std::vector<double> w(x.size(), 1.0 / static_cast<double>(n));
  for (size_t g = 0; g < groups; ++g) {
    const auto first = x.begin() + static_cast<ptrdiff_t>(g * n);
    const double sum = std::accumulate(first, first + static_cast<ptrdiff_t>(n), 0.0);
    if (sum > 0)
      for (size_t i = g * n; i < (g + 1) * n; ++i) w[i] = x[i] / sum;
  }
  return w;
}

std::vector<std::vector<double>> rows_of(const std::vector<double>& w, size_t groups) {
  const size_t n = w.size() / groups;
  std::vector<std::vector<double>> rows;
  for (size_t g = 0; g < groups; ++g)
    rows.emplace_back(w.begin() + static_cast<ptrdiff_t>(g * n), w.begin() + static_cast<ptrdiff_t>((g + 1) * n));
  return rows;
}

double mean_abs(const std::vector<double>& w) {
  double s = 0;
  for (double v : w) s += std::abs(v);
  return s / static_cast<double>(w.size());
}

struct SearchState {
  MergedModelLoss& loss;
  size_t candidates;
  const SearchSettings& settings;
  const StepFn& on_step;
  WeightChoiceTrace trace;
  std::exception_ptr error;
  nlopt_opt opt = nullptr;
};

// NLopt is C: an exception must not cross it, so it is kept and the search
// stopped, then rethrown.
double objective(unsigned n, const double* x, double* /*gradient*/, void* data) {
  auto& s = *static_cast<SearchState*>(data);
  try {
    ChoiceStep step;
    const size_t groups = s.trace.layer_groups;
    // The weights first, then one density per candidate when searched.
    const unsigned weights = s.settings.density_searched ? n - static_cast<unsigned>(s.candidates) : n;
    step.weights = weights_of(std::vector<double>(x, x + weights), groups, s.settings.simplex);
    step.density.assign(x + weights, x + n);
    step.loss = s.loss(rows_of(step.weights, groups), step.density);
    step.objective = step.loss.train + s.settings.l1 * mean_abs(step.weights);
    s.trace.steps.push_back(step);
    if (step.objective < s.trace.steps[s.trace.best].objective) s.trace.best = s.trace.steps.size() - 1;
    s.on_step(s.trace, s.trace.steps.size() - 1);
    return step.objective;
  } catch (...) {
    s.error = std::current_exception();
    nlopt_force_stop(s.opt);
    return HUGE_VAL;
  }
}

const char* stop_reason(nlopt_result r) {
  switch (r) {
    case NLOPT_MAXEVAL_REACHED: return "budget reached";
    case NLOPT_XTOL_REACHED:
    case NLOPT_FTOL_REACHED: return "converged before the budget";
    case NLOPT_STOPVAL_REACHED:
    case NLOPT_SUCCESS: return "converged";
    case NLOPT_ROUNDOFF_LIMITED: return "stopped by roundoff";
    default: return "stopped";
  }
}

}  // namespace


WeightChoiceTrace search_weights(MergedModelLoss& loss, size_t candidates, const SearchSettings& settings,
                                 const StepFn& on_step) {
  const nlopt_algorithm algorithm = algorithm_of(settings.algorithm);
  SearchState state{loss, candidates, settings, on_step, {}, nullptr, nullptr};
  state.trace.how = "search (" + settings.algorithm + ")";
  state.trace.layer_groups = static_cast<size_t>(settings.layer_groups);
  const auto weights = static_cast<unsigned>(candidates * state.trace.layer_groups);
  const auto n = weights + static_cast<unsigned>(settings.density_searched ? candidates : 0);
  // NLopt's own generator: the one mutable global here, seeded for each search.
  nlopt_srand(settings.seed);
  state.opt = nlopt_create(algorithm, n);
  if (!state.opt) throw Error("search.algorithm '" + settings.algorithm + "' cannot search " + std::to_string(n) + " weights");
  std::vector<double> lower(n, settings.density_lower), upper(n, settings.density_upper);
  std::fill_n(lower.begin(), weights, settings.lower);
  std::fill_n(upper.begin(), weights, settings.upper);
  nlopt_set_lower_bounds(state.opt, lower.data());
  nlopt_set_upper_bounds(state.opt, upper.data());
  nlopt_set_min_objective(state.opt, objective, &state);
  nlopt_set_maxeval(state.opt, settings.budget);
  // From the uniform recipe, moved into the bounds, and the middle of the
  // density bounds.
  std::vector<double> x(n, (settings.density_lower + settings.density_upper) / 2);
  std::fill_n(x.begin(), weights, std::clamp(1.0 / static_cast<double>(candidates), settings.lower, settings.upper));
  double best = 0;
  const nlopt_result r = nlopt_optimize(state.opt, x.data(), &best);
  nlopt_destroy(state.opt);
  if (state.error) std::rethrow_exception(state.error);
  if (state.trace.steps.empty())
    throw Error("search.algorithm '" + settings.algorithm + "' evaluated nothing (NLopt result " + std::to_string(r) + ")");
  state.trace.stopped = stop_reason(r);
  return state.trace;
}

WeightChoiceTrace greedy_soup(MergedModelLoss& loss, const std::vector<double>& own_loss,
                              const std::vector<std::string>& names, const StepFn& on_step) {
  WeightChoiceTrace trace;
  trace.how = "greedy soup";
  std::vector<size_t> order(own_loss.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return own_loss[a] < own_loss[b]; });
  const bool held = loss.split().held_out > 0;
  auto criterion = [&](const MergedLoss& l) { return held ? l.held_out : l.train; };
  std::vector<size_t> soup;
  for (size_t c : order) {
    std::vector<size_t> trial = soup;
    trial.push_back(c);
    ChoiceStep step;
    step.weights.assign(own_loss.size(), 0.0);
    for (size_t m : trial) step.weights[m] = 1.0 / static_cast<double>(trial.size());
    step.loss = loss(step.weights);
    step.objective = criterion(step.loss);
    const bool better = soup.empty() || step.objective < trace.steps[trace.best].objective;
    step.note = (soup.empty() ? "start with " : better ? "add " : "leave out ") + names[c];
    trace.steps.push_back(step);
    if (better) {
      soup = trial;
      trace.best = trace.steps.size() - 1;
    }
    on_step(trace, trace.steps.size() - 1);
  }
  trace.stopped = "every candidate tried";
  return trace;
}

}  // namespace cocktail
