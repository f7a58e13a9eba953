#!/usr/bin/env bash
# mpirun with the flags this environment needs, so scripts and users need not
# remember them: --allow-run-as-root when running as root (containers, CI),
# --oversubscribe when more ranks are asked for than there are cores.
#   launch/mpirun.sh -n 2 build/src/cocktail_dist configs/demo.yaml
set -euo pipefail
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
# The rank count in every spelling Open MPI's mpirun takes (`mpirun --help
# all`: "-c|-np|--np" and "-n|--n"; it refuses "--np=4").
ranks=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -n|--n|-np|--np|-c) ranks="${args[$((i + 1))]:-1}"; break ;;
  esac
done
[[ "$ranks" =~ ^[0-9]+$ ]] && ((ranks > $(nproc))) && extra+=(--oversubscribe)
exec mpirun "${extra[@]}" "$@"
