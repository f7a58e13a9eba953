#include "cli/merge_command.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cli/fault_injection.hpp"
#include "cli/progress.hpp"
#include "cli/stop_signals.hpp"
#include "cli/report.hpp"
#include "config/job.hpp"
#include "core/dtype_names.hpp"
#include "dist/collective_step.hpp"
#include "io/checkpoint.hpp"
#include "io/journal.hpp"
#include "io/keras_h5_writer.hpp"
#include "dist/mpi_comm.hpp"
#include "io/output_folder.hpp"
#include "io/output_lock.hpp"
#include "plan/sliced_tensors.hpp"
#include "io/safetensors_writer.hpp"
#include "io/side_files.hpp"
#include "vocab/output_vocabulary.hpp"
#include "cli/load_fewshot.hpp"
#include "gpu/cuda_module.hpp"
#include "gpu/placement.hpp"
#include "merge/methods/method.hpp"
#include "merge/statistics.hpp"
#include "merge/stream_merge.hpp"
#include "plan/merge_plan.hpp"
#include "weighted_sum_group.hpp"

namespace fs = std::filesystem;

namespace cocktail {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

// The dtype config.json announces: out_dtype, else the float dtype holding
// most output bytes.
std::optional<DType> config_dtype(const Job& job, const MergePlan& plan) {
  if (job.out_dtype) return job.out_dtype;
  std::map<DType, uint64_t> bytes;
  for (const auto& t : plan.tensors)
    if (t.action == TensorAction::Merge) bytes[t.out_dtype] += t.out_bytes();
  if (bytes.empty()) return std::nullopt;
  return std::max_element(bytes.begin(), bytes.end(),
                          [](auto& a, auto& b) { return a.second < b.second; })->first;
}

// Everything every rank knows after validation.
struct PreparedJob {
  Job job;
  MergeRecipe recipe;
  std::vector<Checkpoint> models;
  MergePlan plan;
  SideFiles side_files;
  fs::path staging;
  std::optional<FewShotResult> fewshot;
  Placement placement;
  OutputLock lock;  // rank 0 of a merge: held until the job has ended
  const Method* method = nullptr;            // a method of src/merge/methods/, else null
  std::unique_ptr<PreparedMethod> prepared;  // its parameters for every tensor of `plan`
  std::unique_ptr<OutputVocabulary> vocabulary;  // under tokenizer_source / tokenizer; `plan` points into it
};

// A registered method's settings as written, for the shard headers: a run
// with other parameters must not resume this one's journal.
std::string settings_text(const Job& job) {
  auto add = [](std::string& out, const Settings& settings) {
    for (const Setting& st : settings) {
      out += st.name + "=";
      for (const SettingCondition& c : st.conditions) {
        out += c.filter ? "{" + *c.filter + "}" : std::string();
        out += c.value.gradient ? "[" : "";
        for (size_t i = 0; i < c.value.items.size(); ++i) out += (i ? "," : "") + c.value.items[i];
        out += c.value.gradient ? "]" : "";
        out += ";";
      }
      out += " ";
    }
  };
  std::string out;
  add(out, job.parameters);
  for (size_t i = 0; i < job.models.size(); ++i) {
    out += "| model " + std::to_string(i) + ": ";
    add(out, job.models[i].parameters);
  }
  for (size_t i = 0; i < job.slices.size(); ++i) {
    out += "| slice " + std::to_string(i) + ": ";
    add(out, job.slices[i].parameters);
    for (const SliceSource& src : job.slices[i].sources) {
      out += "(model " + std::to_string(src.model) + " layers " + std::to_string(src.begin) + "-" +
             std::to_string(src.end) + ": ";
      add(out, src.parameters);
      out += ") ";
    }
  }
  return out + "| random_seed " + std::to_string(job.random_seed);
}

// LM-Cocktail's weights for a method of src/merge/methods/: each candidate's
// `weight` becomes its softmax(-loss / T) weight, times 1 - alpha when a
// target takes alpha; the method then resolves them like written weights.
void set_fewshot_weights(Job& job, const FewShotResult& fewshot) {
  const double rest = job.has_target() ? 1.0 - job.alpha : 1.0;
  std::vector<double> weights;
  for (double w : fewshot.weights) weights.push_back(rest * w);
  set_candidate_parameters(job, fewshot.candidates, "weight", weights, "few-shot weight");
  if (fewshot.choice && !fewshot.choice->steps[fewshot.choice->best].density.empty())
    set_candidate_parameters(job, fewshot.candidates, "density", fewshot.choice->steps[fewshot.choice->best].density,
                             "searched density");
  for (size_t i = 0; i < job.models.size(); ++i)
    if (job.models[i].role == ModelRole::Target) set_candidate_parameters(job, {i}, "weight", {job.alpha}, "alpha");
}

// A method of src/merge/methods/: known, its settings well-formed, its
// inputs present. Cheap, so it runs before any checkpoint is opened.
const Method* check_method(const Job& job) {
  if (job.method != MergeMethod::Registered) return nullptr;
  const Method* m = find_method(job.method_name);
  if (!m) throw Error(job.method_where + ": unknown method '" + job.method_name + "' (supported: " + method_list() + ")");
  ParamResolver(job, m->parameters());
  m->sources(job);
  return m;
}

// Weights a search chose per layer group merge as mergekit's linear with
// slices: one slice per group, every candidate a source of it with its
// group's weight, not normalised (the weights are the chosen ones); the
// embeddings take the first slice's weights and the final norm and output
// the last's, as the search's mixture did (model/mixture_source).
void merge_groups_as_slices(PreparedJob& p) {
  Job& job = p.job;
  const FewShotResult& f = *p.fewshot;
  const WeightChoiceTrace& c = *f.choice;
  const std::vector<double>& w = c.steps[c.best].weights;
  const size_t n = f.candidates.size();
  const std::string where = job.config_path.string() + ": key 'search.layer_groups'";
  job.method = MergeMethod::Registered;
  job.method_name = "linear";
  job.parameters = {plain_setting("normalize", "false", where)};
  job.slices.clear();
  for (size_t g = 0; g < c.layer_groups; ++g) {
    Slice slice;
    slice.where = where + " (group " + std::to_string(g) + ")";
    for (size_t i = 0; i < n; ++i)
      slice.sources.push_back({f.candidates[i], static_cast<long>(c.layer_ranges[g].first),
                               static_cast<long>(c.layer_ranges[g].second),
                               {plain_setting("weight", exact_number_text(w[g * n + i]), slice.where)}, slice.where});
    job.slices.push_back(std::move(slice));
  }
  p.method = check_method(job);
}

// Step 1: the job and the headers of every model; no communication. Rank 0
// of a merge then takes the output's lock, before anything can be deleted.
void load_inputs(const CliArgs& args, bool root, PreparedJob& p) {
  p.job = load_job(args.path);
  p.method = check_method(p.job);
  p.job.output = clean_output_path(args.output ? fs::path(*args.output) : p.job.output);
  // Every file the job reads, which no output may overlap.
  std::vector<fs::path> paths, files_read = {p.job.config_path};
  if (p.job.fewshot) files_read.insert(files_read.end(), p.job.fewshot->files.begin(), p.job.fewshot->files.end());
  for (const auto& m : p.job.models) {
    const Checkpoint& model = p.models.emplace_back(Checkpoint::open(m.path, m.adapter));
    paths.push_back(m.path);
    if (!m.adapter.empty()) {
      paths.push_back(m.adapter);
      files_read.push_back(m.adapter / "adapter_config.json");
    }
    if (!model.index().empty()) files_read.push_back(model.index());
    for (const auto& f : model.files()) files_read.push_back(f.path);
    for (const auto& f : side_files_read(model.folder())) files_read.push_back(f);
  }
  if (args.command != CliArgs::Command::Merge) return;
  check_side_files(p.models[p.job.reference_index()].folder());
  check_output_path(p.job.output, paths, files_read, args.overwrite);
  if (root && !args.dry_run) p.lock = OutputLock::acquire(p.job.output, p.job.config_path.string());
}

// Step 3, after the few-shot weights (if any): recipe, plan, side files.
void plan_merge(int ranks, PreparedJob& p) {
  PlanOptions options;
  const bool grouped = p.fewshot && p.fewshot->choice && p.fewshot->choice->layer_groups > 1;
  if (grouped) merge_groups_as_slices(p);
  if (p.method) {
    if (p.fewshot && !grouped) set_fewshot_weights(p.job, *p.fewshot);
    p.recipe.models = p.method->sources(p.job);
    options.unit_alignment = [m = p.method, &job = p.job](const PlannedTensor& t) { return m->unit_alignment(job, t); };
    options.slices = &p.job.slices;
    options.slice_models_may_differ = p.method->models_may_differ_per_slice();
  } else {
    p.recipe = make_recipe(p.job, p.fewshot ? p.fewshot->weights : std::vector<double>{});
  }
  options.reference = p.job.reference_index();
  options.summed = p.recipe.models;
  if (p.job.tokenizer) {
    std::vector<fs::path> folders;
    for (const Checkpoint& m : p.models) folders.push_back(m.folder());
    p.vocabulary = std::make_unique<OutputVocabulary>(build_output_vocabulary(p.job, folders, p.recipe.models));
    options.vocabulary = p.vocabulary.get();
  }
  options.out_dtype = p.job.out_dtype;
  options.max_shard_size = p.job.max_shard_size;
  const bool keras_reference = p.models[p.job.reference_index()].is_keras();
  options.format = p.job.output_format == OutputChoice::Keras ||
                           (p.job.output_format == OutputChoice::Auto && keras_reference)
                       ? OutputFormat::Keras
                       : OutputFormat::Safetensors;
  options.chunk_size = p.job.chunk_size;
  options.ranks = ranks;
  // Provenance in every shard; nothing rank- or time-dependent, so the bytes
  // stay identical across rank counts and reruns.
  options.metadata = {{"format", "pt"},
                      {"cocktail_version", COCKTAIL_VERSION},
                      {"merge_method", p.job.method_name}};
  if (p.method)
    options.metadata["merge_parameters"] = settings_text(p.job);
  else
    options.metadata["merge_weights"] = weights_text(p.job, p.recipe);
  if (p.fewshot) options.metadata["fewshot_losses"] = losses_text(p.job, *p.fewshot);
  p.plan = make_merge_plan(p.models, options);
  if (p.method) {
    p.prepared = p.method->prepare(p.job, p.plan);
    p.recipe.description = p.prepared->summary();
  }
  if (p.vocabulary) p.recipe.vocabulary = p.vocabulary->summary();
  p.side_files =
      read_side_files(p.models[p.job.reference_index()].folder(), config_dtype(p.job, p.plan));
  if (!p.job.slices.empty()) {
    std::vector<std::pair<fs::path, long>> layers;
    for (const auto& [model, layer] : sliced_layer_sources(p.job.slices)) layers.emplace_back(p.models[model].folder(), layer);
    restack_layers(p.side_files, layers);
  }
  if (p.vocabulary)
    use_vocabulary(p.side_files, p.vocabulary->source_folder, p.vocabulary->tokenizer_json,
                   p.vocabulary->tokenizer_config_json, p.vocabulary->rows);
  p.staging = staging_path(p.job.output);
  if (p.placement.gpu != kCpu && p.method && !p.prepared->has_device_kernels() && !p.prepared->weighted_by_tensor()) {
    const std::string why = p.job.method_name + " has no GPU kernel yet";
    if (p.job.device == DeviceChoice::Cuda)
      throw Error(p.job.config_path.string() + ": key 'device': cuda, but " + why + " (use device: cpu or auto)");
    p.placement = Placement();
    p.placement.warning = "device: auto: " + why + "; merging on the CPU";
  }
  if (p.placement.gpu >= 0 && p.recipe.models.size() > static_cast<size_t>(kMaxGpuModels)) {
    const std::string why = std::to_string(p.recipe.models.size()) + " models in one sum, and the GPU kernel takes at most " +
                            std::to_string(kMaxGpuModels);
    if (p.job.device == DeviceChoice::Cuda)
      throw Error(p.job.config_path.string() + ": key 'device': cuda, but " + why + " (use device: cpu)");
    p.placement = Placement();
    p.placement.warning = "device: auto: " + why + "; merging on the CPU";
  }
}


// Cores this rank may use: the launcher's binding when there is one (mpirun
// binds small jobs to cores, Slurm to its cpuset), else an equal share of
// the node.
int default_compute_threads(const Comm& comm) {
  cpu_set_t set;
  const int node = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < node)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1, node / comm.local_size());
}

int compute_threads(const Job& job, const Comm& comm) {
  return job.threads > 0 ? job.threads : default_compute_threads(comm);
}

StreamOptions stream_options(const Job& job, const Comm& comm, const Placement& placement) {
  StreamOptions o;
  o.gpu = placement.gpu;
  o.compute_threads = compute_threads(job, comm);
  o.io_threads = job.io_threads;
  o.prefetch = job.prefetch;
  o.direct_writes = job.direct_writes;
  return o;
}

// Each rank's device. `device: cuda` without a usable GPU fails on every rank.
// --emulate-gpu takes the GPU path's code on the CPU instead (kEmulatedGpu).
void place(Comm& comm, PreparedJob& p, bool emulate_gpu, std::ostream& log) {
  if (emulate_gpu) {
    p.placement = Placement();
    p.placement.gpu = kEmulatedGpu;
    return;
  }
  std::vector<double> keys(comm.size(), 0.0);
  collective_step(comm, [&] {
    // device: cpu never touches CUDA (nor pays for its start).
    const GpuProbe probe = p.job.device == DeviceChoice::Cpu ? GpuProbe{} : probe_gpus();
    p.placement = place_rank(p.job.device, probe, comm.local_rank(), p.job.config_path.string());
    if (p.placement.gpu >= 0) keys[comm.rank()] = gpu_key(gpu_identity(p.placement.gpu));
  });
  comm.allreduce_sum(keys);
  const int sharing = ranks_on_same_gpu(keys, comm.rank());
  p.placement.shared = sharing > 1;
  std::vector<double> most = {static_cast<double>(sharing)};
  comm.allreduce_max(most);
  if (comm.rank() != 0) return;
  if (!p.placement.warning.empty()) log << "cocktail: warning: " << p.placement.warning << std::endl;
  if (most[0] > 1)
    log << "cocktail: warning: up to " << most[0] << " ranks share one GPU; one rank per GPU is fastest"
        << std::endl;
}

// NCCL for the loss partials when every rank's forward runs on a GPU of its
// own; else null, and the host communicator (MPI) does it all.
std::unique_ptr<Comm> device_comm(Comm& comm, const Placement& placement, const FewShotModule& fewshot) {
  std::vector<double> eligible = {fewshot.forward_on_gpu(placement.gpu) && !placement.shared ? 1.0 : 0.0};
  comm.allreduce_sum(eligible);
  if (eligible[0] != comm.size()) return nullptr;
  // Every rank is on a GPU, so every rank has loaded the CUDA module.
  const CudaModule& cuda = cuda_module();
  if (!cuda.make_nccl_comm) return nullptr;  // a build without NCCL
  // Every step agreed before the next: a rank failing inside NCCL's init
  // would leave the others waiting there.
  std::string id;
  collective_step(comm, [&] {
    if (comm.rank() == 0) id = cuda.nccl_unique_id();
  });
  comm.broadcast(id, 0);
  std::unique_ptr<Comm> nccl;
  collective_step(comm, [&] { nccl = cuda.make_nccl_comm(comm, placement.gpu, id); });
  return nccl;
}

// Steps 1 and 2 on every rank; the few-shot step is itself collective.
void load_and_weigh(Comm& comm, const CliArgs& args, PreparedJob& p, std::ostream& log) {
  collective_step(comm, [&] { load_inputs(args, comm.rank() == 0, p); });
  if (!p.lock.warning().empty()) log << "cocktail: warning: " << p.lock.warning() << std::endl;
  place(comm, p, args.emulate_gpu, log);
  if (!p.job.fewshot) return;
  // The few-shot step's code (and libtorch) is loaded here, by every rank
  // at once: a rank that cannot load it stops them all.
  const FewShotModule* fewshot = nullptr;
  collective_step(comm, [&] {
    fewshot = &fewshot_module();
    fewshot->check_weight_choice(p.job, p.models);
  });
  // Scoring streams every candidate's weights once: minutes on large models.
  if (comm.rank() == 0)
    log << "cocktail: scoring " << p.job.candidates().size() << " candidates on few-shot examples with "
        << comm.size() << " rank" << (comm.size() == 1 ? "" : "s") << std::endl;
  const std::unique_ptr<Comm> nccl = device_comm(comm, p.placement, *fewshot);
  p.fewshot = fewshot->compute_weights(nccl ? *nccl : comm, p.job, p.models, compute_threads(p.job, comm),
                                       p.placement.gpu);
  if (p.job.fewshot->weights != WeightChoice::Softmax && comm.rank() == 0)
    log << "cocktail: choosing the weights by evaluating merged models ("
        << (p.job.fewshot->weights == WeightChoice::Search ? "search" : "greedy soup") << ")" << std::endl;
  // A line per merged model evaluated, unless progress is off.
  fewshot->choose_weights(nccl ? *nccl : comm, p.job, p.models, p.placement.gpu, compute_threads(p.job, comm),
                          *p.fewshot, comm.rank() == 0 && p.job.progress_interval > 0 ? &log : nullptr);
  if (comm.rank() == 0) print_fewshot(log, p.job, *p.fewshot);
}

JobTotals gather_totals(Comm& comm, const StreamStats& stats, bool on_gpu, double merge_seconds) {
  JobTotals t;
  std::vector<double> sums = {static_cast<double>(stats.bytes_read),
                              static_cast<double>(stats.bytes_written),
                              static_cast<double>(stats.units),
                              on_gpu ? 1.0 : 0.0,
                              static_cast<double>(stats.skipped_units),
                              static_cast<double>(stats.skipped_bytes)};
  sums.insert(sums.end(), stats.nonfinite.begin(), stats.nonfinite.end());
  sums.insert(sums.end(), stats.differs.begin(), stats.differs.end());
  std::vector<double> per_rank(comm.size() + 1, 0.0);
  per_rank[comm.rank()] = peak_rss_bytes();
  per_rank.back() = merge_seconds;
  comm.allreduce_sum(sums);
  comm.allreduce_max(per_rank);

  t.bytes_read = sums[0];
  t.bytes_written = sums[1];
  t.units = sums[2];
  t.gpu_ranks = sums[3];
  t.skipped_units = sums[4];
  t.skipped_bytes = sums[5];
  t.compute = stats.compute;
  auto it = sums.begin() + 6;
  t.nonfinite.assign(it, it + stats.nonfinite.size());
  it += stats.nonfinite.size();
  t.differs.assign(it, sums.end());
  t.peak_rss_bytes.assign(per_rank.begin(), per_rank.end() - 1);
  t.merge_seconds = per_rank.back();
  return t;
}

void write_metadata_files(const PreparedJob& p, const fs::path& staging, const JobTotals& totals) {
  const OutputLayout& layout = p.plan.layout;
  if (layout.format == OutputFormat::Keras) {
    if (layout.shards.size() > 1) write_staged_file(staging, "model.weights.json", keras_index_json(layout, p.plan.tensors));
  } else if (layout.shards.size() > 1) {
    std::map<std::string, std::string> weight_map;
    for (const auto& shard : layout.shards)
      for (size_t t : shard.tensors) weight_map[p.plan.tensors[t].name] = shard.file_name;
    write_staged_file(staging, "model.safetensors.index.json",
                      encode_shard_index(layout.total_tensor_bytes, weight_map));
  }
  stage_side_files(p.models[p.job.reference_index()].folder(), p.side_files, staging);
  write_staged_file(staging, "merge_report.json",
                    merge_report_json(p.job, p.recipe, p.plan, totals,
                                      p.fewshot ? &*p.fewshot : nullptr, p.side_files));
  if (p.fewshot && p.fewshot->choice)
    write_staged_file(staging, "cocktail_recipe.yaml", chosen_recipe_yaml(p.job, *p.fewshot));
}

// Ranks plan alone; if they saw different headers (a stale network
// filesystem cache, different mounts) their writes would overlap silently.
void check_same_plan(Comm& comm, uint64_t fingerprint) {
  const double hi = static_cast<double>(fingerprint >> 32), lo = static_cast<double>(fingerprint & 0xffffffff);
  double v[4] = {hi, lo, -hi, -lo};  // max of -x is -min of x
  comm.allreduce_max(v);
  if (v[0] != -v[2] || v[1] != -v[3])
    throw JobFailed("ranks read different checkpoint headers (do all nodes see the same files?)", 0);
}

// Rank 0: keeps the staging folder of an earlier run of this same job (its
// journal names what is done), or starts a fresh one and says why; either
// way this run claims it. Returns whether it resumed.
bool start_or_resume(const fs::path& staging, const PreparedJob& p, const std::vector<std::string>& identity,
                     std::ostream& log) {
  bool resumed = false;
  if (fs::exists(staging)) {
    const std::string why = Journal::mismatch(staging, identity);
    resumed = why.empty();
    if (resumed)
      log << "cocktail: resuming from " << staging.string() << std::endl;
    else
      log << "cocktail: warning: starting over: the earlier partial output in " << staging.string()
          << " cannot be resumed (" << why << ")" << std::endl;
  }
  if (!resumed) {
    create_staged_shards(staging, p.plan.layout);
    Journal::create(staging, identity);
  }
  Journal::claim(staging, p.lock.holder());
  return resumed;
}

// Rank 0, last thing before the rename: the lock keeps other jobs out, but
// where the filesystem cannot lock, another job may have taken the folder
// over; its bytes must never be published as this job's.
void check_still_ours(const fs::path& staging, const PreparedJob& p, const std::vector<std::string>& identity) {
  const std::string owner = Journal::owner(staging);
  if (owner != p.lock.holder() || !Journal::mismatch(staging, identity).empty())
    throw Error(staging.string() + " was taken over by another job (" +
                (owner.empty() ? std::string("its journal is gone") : owner) +
                "); not publishing it as " + p.job.output.string());
}

}  // namespace

// Every rank: a fresh run's HDF5 files, created together (parallel HDF5
// needs the MPI communicator; one process without MPI creates them alone),
// then the offsets HDF5 gave each tensor, read back from the staged files by
// every rank (a resumed run's too).
void stage_keras_files(Comm& comm, PreparedJob& p, bool resumed_on_root) {
  std::string resumed = resumed_on_root ? "1" : "0";
  comm.broadcast(resumed, 0);
  const auto* mpi = dynamic_cast<const MpiComm*>(&comm);
  if (!mpi && comm.size() > 1)
    throw Error("a Keras output of several ranks is written with parallel HDF5, which needs the MPI communicator");
  const MPI_Comm files_comm = mpi ? mpi->mpi() : MPI_COMM_NULL;
  if (resumed != "1") collective_step(comm, [&] { create_keras_shards(files_comm, p.staging, p.plan.layout, p.plan.tensors); });
  collective_step(comm, [&] { read_keras_offsets(p.staging, p.plan.layout, p.plan.tensors); });
}

void run_merge(Comm& comm, const CliArgs& args, std::ostream& log) {
  const auto start = Clock::now();
  const bool root = comm.rank() == 0;
  PreparedJob p;
  load_and_weigh(comm, args, p, log);
  const std::string placement_warning = p.placement.warning;
  collective_step(comm, [&] { plan_merge(comm.size(), p); });
  if (root && p.placement.warning != placement_warning)
    log << "cocktail: warning: " << p.placement.warning << "\n";
  if (root) {
    for (const auto& w : p.recipe.warnings) log << "cocktail: warning: " << w << "\n";
    for (const auto& w : p.side_files.warnings) log << "cocktail: warning: " << w << "\n";
  }
  check_same_plan(comm, plan_fingerprint(p.plan));
  if (args.dry_run) {
    if (root) {
      print_plan(log, p.job, p.recipe, p.plan, comm.size());
      if (p.prepared) print_parameters(log, *p.prepared, p.plan);
    }
    return;
  }

  const fs::path& staging = p.staging;
  FaultHook fault;  // a malformed COCKTAIL_FAULT fails every rank alike
  collective_step(comm, [&] { fault = fault_hook(std::getenv("COCKTAIL_FAULT"), comm.rank(), p.plan, p.models); });
  // Until the journal exists a failure removes the staging folder; after, it
  // is kept so that the same command resumes. A fresh run that fails in its
  // statistics (bad data, a stop) has written no unit, and a resumed run
  // recomputes the statistics anyway: nothing there is worth keeping.
  bool journal_started = false, resumed = false, merge_started = false;
  std::vector<std::string> identity;  // rank 0's, for the journal
  try {
    collective_step(comm, [&] {
      if (!root) return;
      identity = job_identity(plan_fingerprint(p.plan), p.models);
      resumed = start_or_resume(staging, p, identity, log);
    });
    journal_started = true;
    if (p.plan.layout.format == OutputFormat::Keras) stage_keras_files(comm, p, resumed);

    StreamStats stats;
    const auto merge_start = Clock::now();
    {
      // Streaming takes hours on large jobs: a rank that fails tells the
      // others at once instead of letting them finish their shares first.
      const std::unique_ptr<FailureFlag> failed = comm.make_failure_flag();
      // Only here is there something to keep: before, the default action
      // (end the process) is right, and so is it after.
      const StopSignals stop;
      if (p.prepared && p.prepared->passes() > 0) {
        StatisticsOptions so;
        so.gpu = p.placement.gpu;
        so.compute_threads = compute_threads(p.job, comm);
        so.io_threads = p.job.io_threads;
        so.failed = failed.get();
        if (root)
          log << "cocktail: " << p.job.method_name << ": statistics over the tensors ("
              << (p.prepared->passes() == 1 ? std::string("one pass") : "up to " + std::to_string(p.prepared->passes()) + " passes")
              << " over the inputs)" << std::endl;
        ProgressReporter progress(log, root ? p.job.progress_interval : 0,
                                  statistics_read_bytes(*p.prepared, p.plan, 0) * comm.size(),
                                  statistics_read_bytes(*p.prepared, p.plan, comm.rank()), "statistics ");
        run_statistics(comm, *p.prepared, p.plan, p.models, so, [&](uint64_t done) {
          if (const char* signal = stop.requested()) throw Interrupted("stopped by " + std::string(signal));
          if (failed->raised()) throw StoppedByOtherRank();
          progress.update(done);
        });
      }
      std::unique_ptr<Journal> journal;
      merge_started = true;
      collective_step(
          comm,
          [&] {
            Resume resume;
            resume.recorded = Journal::recorded_units(staging, resume_stats(p.recipe));
            journal = std::make_unique<Journal>(staging, comm.rank(), resume_stats(p.recipe));
            resume.journal = journal.get();
            ProgressReporter progress(log, root ? p.job.progress_interval : 0,
                                      p.plan.total_read_bytes(),
                                      p.plan.rank_read_bytes(comm.rank()));
            StreamOptions options = stream_options(p.job, comm, p.placement);
            options.fault = fault;
            options.method = p.prepared.get();
            stats = stream_merge(p.plan, p.models, p.recipe, staging, comm.rank(), options, resume,
                                 [&](uint64_t done) {
                                   if (const char* signal = stop.requested())
                                     throw Interrupted("stopped by " + std::string(signal));
                                   if (failed->raised()) throw StoppedByOtherRank();
                                   progress.update(done);
                                 });
          },
          failed.get());
    }
    JobTotals totals = gather_totals(comm, stats, p.placement.gpu >= 0, seconds_since(merge_start));
    totals.compute_note = p.placement.note;

    collective_step(comm, [&] {
      if (!root) return;
      if (fault) fault("publish", 0);
      check_still_ours(staging, p, identity);
      write_metadata_files(p, staging, totals);
      publish_output(staging, p.job.output, args.overwrite);
      // After the rename, so a failed rename keeps the job resumable; a kill
      // in between leaves the hidden folder in a complete output. The merge
      // has succeeded by now: a failure here is only worth a warning.
      try {
        Journal::remove(p.job.output);
      } catch (const Error& e) {
        log << "cocktail: warning: " << e.what() << std::endl;
      }
    });
    totals.total_seconds = seconds_since(start);
    if (root) {
      for (const auto& w : data_warnings(p.job, p.recipe, p.plan, totals))
        log << "cocktail: warning: " << w << "\n";
      print_summary(log, p.job, p.recipe, p.plan, totals);
    }
  } catch (const JobFailed& e) {
    // Every rank is here together (collective_step agreed on the failure), so
    // no rank is still writing into the staging folder.
    // A staging folder with a journal is an earlier run's work to resume,
    // even when this run failed before using it.
    if (!journal_started) {
      if (root && !Journal::exists(staging)) remove_staging(staging);
      throw;
    }
    if (!merge_started && !resumed) {
      if (root) remove_staging(staging);
      throw;
    }
    // Taken over by another job (check_still_ours): the folder is not this
    // job's to resume, so no hint to rerun (rank 0 prints the message).
    if (root && Journal::owner(staging) != p.lock.holder()) throw;
    throw JobFailed(std::string(e.what()) + "; the finished part is kept in " + staging.string() +
                        ": rerun the same command to resume",
                    e.failed_rank(), e.interrupted());
  }
}

void run_eval(Comm& comm, const CliArgs& args, std::ostream& log) {
  PreparedJob p;
  load_and_weigh(comm, args, p, log);
  if (!p.fewshot)
    throw JobFailed(p.job.config_path.string() +
                        ": eval computes few-shot weights, and this job has no 'examples'",
                    0);
  if (p.fewshot->choice && comm.rank() == 0)
    log << "cocktail: this recipe merges with the chosen weights, without searching:\n"
        << chosen_recipe_yaml(p.job, *p.fewshot);
  std::vector<double> rss(comm.size(), 0.0);
  rss[comm.rank()] = peak_rss_bytes();
  comm.allreduce_max(rss);
  if (comm.rank() == 0) {
    log << "  peak RSS";
    for (size_t r = 0; r < rss.size(); ++r)
      log << (r ? ", " : " ") << "rank " << r << " " << format_bytes(rss[r]);
    log << "\n";
  }
}

}  // namespace cocktail
