#!/usr/bin/env bash
# mpirun with the flags this environment needs, so scripts and users need not
# remember them: --allow-run-as-root when running as root (containers, CI),
# --oversubscribe when more ranks are asked for than there are cores.
#   launch/mpirun.sh -n 2 build/src/cocktail_dist configs/demo.yaml
set -euo pipefail
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
ranks=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -n|-np) ranks="${args[$((i + 1))]}" ;;
  esac
done
((ranks > $(nproc))) && extra+=(--oversubscribe)
exec mpirun "${extra[@]}" "$@"
