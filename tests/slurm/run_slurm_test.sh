#!/usr/bin/env bash
# The sbatch scripts under a real Slurm: the only way to know they work.
#   tests/slurm/run_slurm_test.sh [BUILD_DIR]      (default $BUILD_DIR, else build/)
# As root (it installs packages and runs the daemons). Installs Debian's
# slurmctld, slurmd and munge if missing, writes a one-node cluster on
# localhost into a temporary folder (own munge socket, own ports, no cgroups),
# starts munged, slurmctld and slurmd, then:
#   1. submits slurm/cocktail-cpu.sbatch with 2 tasks on a copy of
#      configs/demo.yaml; the job must be COMPLETED with exit code 0 and its
#      output byte-identical to the same job run with launch/mpirun.sh -n 2;
#      then srun -n 2 of the same job's dry run, whose ranks must open Open
#      MPI's ob1 pml and neither cm nor ucx (one node: src/cli/launcher);
#   2. the real cocktail_dist on a slow merge of two synthetic checkpoints
#      (tests/tools/cocktail_synth): once a rank has journaled a work unit,
#      scancel --batch --signal=USR1 (what --signal=B:USR1@300 does) must stop
#      the ranks with 75 and the finished part kept, the script must requeue,
#      the rerun must resume and complete, and its output must be byte-identical
#      to the same job run uninterrupted with launch/mpirun.sh -n 2 (fails, and
#      says so, if the merge ended before the signal came);
#   3. the same job cancelled with scancel (TERM): the ranks stop with 75 and
#      keep the finished part, the job stays CANCELLED and is not requeued.
# Stops the daemons and removes the folder on every exit
# (SLURM_TEST_KEEP=1 keeps the folder). Each wait has a deadline.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-${BUILD_DIR:-$root/build}}" 2>/dev/null && pwd)" ||
  { echo "slurm-test: no build folder ${1:-${BUILD_DIR:-$root/build}}" >&2; exit 1; }
dist="$build/src/cocktail_dist"
job_timeout="${SLURM_TEST_TIMEOUT:-180}"   # seconds for one job, requeue included

start=$SECONDS
say() { printf 'slurm-test [%3ds] %s\n' $((SECONDS - start)) "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root: it installs packages and starts slurmctld, slurmd and munged"
[ -x "$dist" ] || fail "$dist not found; build first (launch/build.sh) or pass the build folder"
command -v mpirun >/dev/null || fail "mpirun not found; run launch/setup.sh first"

# ---- packages ----------------------------------------------------------------
packages=(slurmctld slurmd slurm-client munge)
# Their postinst scripts would start the system services; we run our own.
policy=/usr/sbin/policy-rc.d made_policy=""
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
"$root/launch/apt_install.sh" slurm-test "${packages[@]}" || fail "apt-get install ${packages[*]}"
[ -z "$made_policy" ] || { rm -f "$policy"; trap - EXIT; }

# ---- cluster -----------------------------------------------------------------
# In /tmp, not $TMPDIR: munged refuses a socket below a folder others may write
# to unless it is sticky.
tmp="$(mktemp -d /tmp/cocktail-slurm.XXXXXX)"
chmod 711 "$tmp"   # munged wants every folder above its socket searchable by all
mkdir -m 700 "$tmp/munge-key"
mkdir -m 711 "$tmp/munge"
mkdir "$tmp/etc" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/jobs"
export SLURM_CONF="$tmp/etc/slurm.conf"
jobs_submitted=()
direct_pid=""   # a launch/mpirun.sh run in the background

stop() {  # stop PIDFILE...: TERM, up to 10 s, then KILL
  local f pids=()
  for f; do [ -s "$f" ] && pids+=("$(cat "$f")"); done
  ((${#pids[@]})) || return 0
  kill "${pids[@]}" 2>/dev/null
  for _ in $(seq 50); do kill -0 "${pids[@]}" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "${pids[@]}" 2>/dev/null
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "$direct_pid" ]; then kill "$direct_pid" 2>/dev/null; wait "$direct_pid" 2>/dev/null; fi
  if ((${#jobs_submitted[@]})) && [ -e "$tmp/slurmctld.pid" ]; then
    scancel "${jobs_submitted[@]}" 2>/dev/null   # those still queued or running
    for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  if ((rc != 0)); then
    for f in "$tmp"/jobs/*.out "$tmp"/log/slurmctld.log "$tmp"/log/slurmd.log "$tmp"/munge-key/munged.log; do
      [ -e "$f" ] && { echo "---- last lines of $f"; tail -n 30 "$f"; }
    done
  fi
  say "stopping the daemons"
  stop "$tmp/slurmd.pid" "$tmp/slurmctld.pid"
  stop "$tmp/munge/munged.pid"
  if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then say "kept $tmp"; else rm -rf "$tmp"; fi
  if ((rc == 0)); then say "PASS"; else say "FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {  # the first port from $1 on that nothing listens on
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
ctld_port="$(free_port "${SLURM_TEST_PORT:-16817}")"
slurmd_port="$(free_port $((ctld_port + 1)))"
node="$(hostname -s)"   # slurmctld and slurmd check their names against it
cpus="$(nproc)"; ((cpus >= 2)) || cpus=2   # 2 tasks even on one core (config_overrides)

cat >"$SLURM_CONF" <<EOF
# One node on localhost for tests/slurm/run_slurm_test.sh.
ClusterName=cocktailtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits cred_expire + 1 seconds before it may start (default 120).
AuthInfo=socket=$tmp/munge/munge.sock,cred_expire=10
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
MailProg=/bin/true
# No cgroups (none inside most containers): processes tracked through /proc,
# no binding, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Pending jobs (a requeued one, once eligible) are looked at every second.
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

say "starting munged, slurmctld (port $ctld_port), slurmd (port $slurmd_port) for node $node in $tmp"
mungekey --create --keyfile="$tmp/munge-key/munge.key"
munged --socket="$tmp/munge/munge.sock" --pid-file="$tmp/munge/munged.pid" \
  --key-file="$tmp/munge-key/munge.key" --seed-file="$tmp/munge-key/munged.seed" \
  --log-file="$tmp/munge-key/munged.log" || fail "munged did not start"
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"

deadline=$((SECONDS + 60))
until [ "$(sinfo -h -n "$node" -o %t 2>/dev/null)" = idle ]; do
  ((SECONDS < deadline)) || fail "node $node not idle after 60 s: $(sinfo -h -n "$node" -o '%t %E' 2>&1)"
  sleep 0.5
done
say "node $node idle; $(slurmctld -V); srun --mpi=list: $(srun --mpi=list 2>&1 | sed -n 's/^\t//p' | tr '\n' ' ')"

field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# --time above the script's 5-minute warning (--signal=B:USR1@300), which
# would otherwise come at once.
submit() {  # submit NAME [sbatch args...] SCRIPT ARGS: prints the job id
  local name=$1; shift
  sbatch --parsable --job-name="$name" --ntasks-per-node=2 --cpus-per-task=1 \
    --time=10 --output="$tmp/jobs/$name-%j.out" "$@"
}

wait_job() {  # wait_job ID: until it ends; fails after $job_timeout seconds
  local id=$1 state deadline=$((SECONDS + job_timeout))
  while :; do
    state="$(field "$id" JobState)"
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) break ;;
    esac
    ((SECONDS < deadline)) || fail "job $id still $state after $job_timeout s"
    sleep 1
  done
  say "job $id: state $state, exit code $(field "$id" ExitCode), restarts $(field "$id" Restarts)"
}

# ---- case 1: the demo merge --------------------------------------------------
# configs/demo.yaml with its paths made absolute and its output in $tmp; both
# jobs sit in the same folder so merge_report.json names the same paths.
job_yaml() {  # job_yaml OUTPUT_FOLDER > yaml
  sed -e "s#\.\./#$root/#g" -e "s#^output:.*#output: $1#" "$root/configs/demo.yaml"
}
mkdir "$tmp/slurm-out" "$tmp/direct-out"
job_yaml "$tmp/slurm-out/merged" >"$tmp/jobs/slurm.yaml"
job_yaml "$tmp/direct-out/merged" >"$tmp/jobs/direct.yaml"

cd "$root"
say "case 1: sbatch slurm/cocktail-cpu.sbatch with 2 tasks on the demo job"
id="$(COCKTAIL_DIST="$dist" submit demo slurm/cocktail-cpu.sbatch "$tmp/jobs/slurm.yaml")"
jobs_submitted+=("$id")
wait_job "$id"
[ "$(field "$id" JobState)" = COMPLETED ] || fail "job $id is $(field "$id" JobState), not COMPLETED"
[ "$(field "$id" ExitCode)" = 0:0 ] || fail "job $id exit code $(field "$id" ExitCode)"
[ "$(field "$id" NumTasks)" = 2 ] || fail "job $id ran $(field "$id" NumTasks) tasks, not 2"
merged="$tmp/slurm-out/merged"
[ -f "$merged/model.safetensors" ] || [ -f "$merged/model.safetensors.index.json" ] ||
  fail "no model.safetensors(.index.json) in $merged"
[ -f "$merged/config.json" ] || fail "no config.json in $merged"

say "case 1: the same job with launch/mpirun.sh -n 2"
launch/mpirun.sh -n 2 "$dist" "$tmp/jobs/direct.yaml" >"$tmp/jobs/direct.out" 2>&1 ||
  { cat "$tmp/jobs/direct.out"; fail "launch/mpirun.sh run failed"; }
diff -r "$merged" "$tmp/direct-out/merged" || fail "Slurm and mpirun outputs differ"
say "case 1: identical output: $(cd "$merged" && echo *)"

# The ranks of a one-node srun step ask Open MPI for ob1 (src/cli/launcher),
# as under mpirun: the loader's log names the pml components they open.
say "case 1: srun -n 2 ranks on one node open pml ob1, not cm or ucx"
LD_DEBUG=files srun --mpi="${COCKTAIL_SRUN_MPI:-pmix}" -n 2 --time=2 "$dist" "$tmp/jobs/direct.yaml" --output "$tmp/pml-out" --dry-run \
  >"$tmp/jobs/pml.out" 2>&1 ||
  { grep -v '^ *[0-9]*:' "$tmp/jobs/pml.out" | tail -n 20; fail "srun --dry-run failed"; }
grep -q 'file=[^ ]*mca_pml_ob1[.]so' "$tmp/jobs/pml.out" || fail "srun ranks did not open mca_pml_ob1.so"
! grep -q 'file=[^ ]*mca_pml_\(cm\|ucx\)[.]so' "$tmp/jobs/pml.out" || fail "srun ranks opened Open MPI's cm or ucx pml"

# ---- cases 2 and 3: interruption, with the real cocktail_dist ------------------
# A linear merge of two synthetic checkpoints in 1 KiB work units, slow enough
# (several seconds of streaming) to be stopped half-way. Each case waits until
# a rank has journaled a finished unit, so the signal lands while streaming.
synth="$build/tests/tools/cocktail_synth"
[ -x "$synth" ] || fail "$synth not found; build the tests (launch/build.sh)"
# 512M: 526 MB per model, about 10 s of streaming for 2 ranks on 2 cores;
# the signal lands within 2 s. Larger gives the signal a longer window.
model_size="${SLURM_TEST_MODEL_SIZE:-512M}"
mkdir "$tmp/models" "$tmp/cancel-out"
for s in 1 2; do
  "$synth" "$tmp/models/m$s" --size "$model_size" --seed "$s" >/dev/null || fail "cocktail_synth m$s"
done
slow_yaml() {  # slow_yaml OUTPUT_FOLDER > yaml
  cat <<EOF
merge_method: linear
models:
  - model: $tmp/models/m1
    parameters: {weight: 0.5}
  - model: $tmp/models/m2
    parameters: {weight: 0.5}
output: $1
chunk_size: 1KiB
progress_interval: 1
EOF
}
staging_of() { echo "$(dirname "$1")/.$(basename "$1").cocktail-staging"; }

ended() {  # ended STATE: whether a job in STATE has ended (or is ending)
  case "$1" in
    COMPLETED | COMPLETING | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;;
  esac
  return 1
}

start_slow_job() {  # start_slow_job NAME OUTPUT_FOLDER: submits (sets id), returns once a rank journaled a unit
  local name=$1 output=$2 state f deadline=$((SECONDS + 60))
  local journal
  journal="$(staging_of "$output")/.cocktail-journal"
  slow_yaml "$output" >"$tmp/jobs/$name.yaml"
  id="$(COCKTAIL_DIST="$dist" submit "$name" slurm/cocktail-cpu.sbatch "$tmp/jobs/$name.yaml")"
  jobs_submitted+=("$id")
  while :; do
    for f in "$journal"/rank-*; do [ -s "$f" ] && return 0; done
    state="$(field "$id" JobState)"
    ended "$state" && fail "job $id ($name) is $state before any rank journaled a work unit in $journal"
    ((SECONDS < deadline)) || fail "job $id ($name): no work unit journaled in $journal after 60 s (state $state)"
    sleep 0.2
  done
}

say "case 2: cocktail_dist stopped by scancel --batch --signal=USR1, requeued, resumed"
slurm_slow="$tmp/slurm-out/slow"
start_slow_job requeue "$slurm_slow"
# Refused if the job has ended already; the checks below then say why.
scancel --batch --signal=USR1 "$id" || say "scancel --batch --signal=USR1 $id failed"
out="$tmp/jobs/requeue-$id.out"
# Until the first run is over: its script says it requeues, or the job ended.
deadline=$((SECONDS + job_timeout))
until grep -q "requeueing job $id" "$out" 2>/dev/null; do
  state="$(field "$id" JobState)"
  ended "$state" && break
  ((SECONDS < deadline)) || fail "job $id: the first run did not end $job_timeout s after USR1 (state $state)"
  sleep 0.2
done
if ! grep -qF "cocktail: interrupted: stopped by SIGUSR1; the finished part is kept in $(staging_of "$slurm_slow")" "$out"; then
  grep -q "^cocktail: merged " "$out" &&
    fail "job $id finished its merge before USR1 reached the ranks: nothing was interrupted, so this proves nothing; make the job slower (SLURM_TEST_MODEL_SIZE, now $model_size)"
  fail "job $id: USR1 did not stop the ranks (no 'interrupted: stopped by SIGUSR1' in $out; state $(field "$id" JobState))"
fi
grep -q "requeueing job $id" "$out" || fail "the script did not requeue job $id after the ranks stopped ($out)"
grep -Eq "tasks? [0-9-]+: Exited with exit code 75" "$out" || fail "srun did not report exit code 75 ($out)"
# Between the runs (the requeued job waits cred_expire + 1 s before it starts):
# nothing published, the staging folder and its journal kept.
[ ! -e "$slurm_slow" ] || fail "the interrupted run published $slurm_slow"
[ -d "$(staging_of "$slurm_slow")/.cocktail-journal" ] || fail "the interrupted run left no journal in $(staging_of "$slurm_slow")"
say "case 2: run 1 stopped with 75, requeued; meanwhile the same job uninterrupted with launch/mpirun.sh -n 2"
# In the requeued job's wait, in the background (cleanup stops it).
slow_yaml "$tmp/direct-out/slow" >"$tmp/jobs/direct-slow.yaml"
launch/mpirun.sh -n 2 "$dist" "$tmp/jobs/direct-slow.yaml" >"$tmp/jobs/direct-slow.out" 2>&1 &
direct_pid=$!
wait_job "$id"
[ "$(field "$id" JobState)" = COMPLETED ] || fail "job $id is $(field "$id" JobState), not COMPLETED"
[ "$(field "$id" ExitCode)" = 0:0 ] || fail "job $id exit code $(field "$id" ExitCode)"
[ "$(field "$id" Restarts)" = 1 ] || fail "job $id restarted $(field "$id" Restarts) times, not once"
run2="$(sed -n "/^cocktail: job $id run 2 on/,\$p" "$out")"
[ -n "$run2" ] || fail "no second run in $out"
grep -qF "cocktail: resuming from $(staging_of "$slurm_slow")" <<<"$run2" || fail "the second run did not resume ($out)"
resumed="$(sed -n 's/^  resumed  \([0-9]*\) of \([0-9]*\) work units.*/\1 \2/p' <<<"$run2")"
[ -n "$resumed" ] || fail "no 'resumed' line in the second run's summary ($out)"
read -r done_units all_units <<<"$resumed"
((done_units > 0 && done_units < all_units)) || fail "resumed $done_units of $all_units units: not a partial run"
[ ! -e "$(staging_of "$slurm_slow")" ] || fail "the staging folder is still there after the rerun"

rc=0; wait "$direct_pid" || rc=$?
direct_pid=""
((rc == 0)) || { cat "$tmp/jobs/direct-slow.out"; fail "launch/mpirun.sh run failed (exit $rc)"; }
diff -r "$slurm_slow" "$tmp/direct-out/slow" || fail "resumed Slurm output and uninterrupted mpirun output differ"
say "case 2: identical output after resuming $done_units of $all_units work units: $(cd "$slurm_slow" && echo *)"

say "case 3: scancel (TERM) stops cocktail_dist, the job stays CANCELLED"
cancel_slow="$tmp/cancel-out/slow"
start_slow_job cancel "$cancel_slow"
scancel "$id" || say "scancel $id failed"
# CANCELLED comes at once; wait until the job's processes are gone (it leaves
# squeue), so that a requeue by the script would have happened.
deadline=$((SECONDS + job_timeout))
while [ -n "$(squeue -h -j "$id" 2>/dev/null)" ]; do
  ((SECONDS < deadline)) || fail "job $id still in squeue $job_timeout s after scancel"
  sleep 0.2
done
say "job $id: state $(field "$id" JobState), exit code $(field "$id" ExitCode), restarts $(field "$id" Restarts)"
out="$tmp/jobs/cancel-$id.out"
! grep -q "^cocktail: merged " "$out" ||
  fail "job $id finished its merge before scancel's TERM reached the ranks: nothing was interrupted; make the job slower (SLURM_TEST_MODEL_SIZE, now $model_size)"
[ "$(field "$id" JobState)" = CANCELLED ] || fail "job $id is $(field "$id" JobState), not CANCELLED"
[ "$(field "$id" Restarts)" = 0 ] || fail "job $id was requeued after scancel"
[ "$(field "$id" ExitCode)" = 75:0 ] || fail "job $id exit code $(field "$id" ExitCode), not 75:0"
grep -qF "cocktail: interrupted: stopped by SIGTERM; the finished part is kept in $(staging_of "$cancel_slow")" "$out" ||
  fail "TERM did not stop the ranks the resumable way ($out)"
! grep -q "requeueing job" "$out" || fail "the script requeued job $id after scancel ($out)"
[ ! -e "$cancel_slow" ] || fail "the cancelled job published $cancel_slow"
[ -d "$(staging_of "$cancel_slow")/.cocktail-journal" ] || fail "the cancelled job left no journal to resume from"
