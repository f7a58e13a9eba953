#!/usr/bin/env bash
# launch/mpirun.sh adds --oversubscribe for more ranks than cores in every
# spelling of the rank count mpirun takes: without it Open MPI refuses with
# "not enough slots". Runs the real binary on a committed fixture.
#   mpirun_wrapper_test.sh COCKTAIL_DIST SOURCE_DIR
set -euo pipefail
dist=$1 src=$2
ranks=$(($(nproc) + 1))
# The test environment oversubscribes on its own; a user's does not.
unset OMPI_MCA_rmaps_base_oversubscribe
# A session folder of its own, as tests/mpirun_own_session.sh.in explains.
export OMPI_MCA_orte_tmpdir_base=$(mktemp -d "${TMPDIR:-/tmp}/cocktail-mpirun.XXXXXX")
trap 'rm -rf "$OMPI_MCA_orte_tmpdir_base"' EXIT
status=0
for flag in -n --n -np --np -c; do
  out=$("$src/launch/mpirun.sh" "$flag" "$ranks" "$dist" inspect "$src/tests/fixtures/models/llama-fp32" 2>&1) || true
  got=$(grep -c "model.embed_tokens.weight" <<<"$out" || true)
  if [ "$got" = "$ranks" ]; then
    echo "ok      $flag $ranks: $got ranks ran"
  else
    echo "FAILED  $flag $ranks: $got of $ranks ranks ran"; echo "$out" | tail -n 5; status=1
  fi
done
exit $status
