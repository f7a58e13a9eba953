#!/usr/bin/env bash
# Every job in configs/ runs as shipped (each with its output redirected to a
# temporary folder), so the examples users copy cannot rot.
#   run_example_configs.sh COCKTAIL_DIST MPIEXEC CONFIG_DIR
set -euo pipefail
dist=$1 mpiexec=$2 configs=$3
out=$(mktemp -d /tmp/cocktail-configs-XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0
for config in "$configs"/*.yaml; do
  name=$(basename "$config" .yaml)
  if "$mpiexec" --allow-run-as-root --oversubscribe -n 2 "$dist" "$config" --output "$out/$name" \
      >"$out/$name.log" 2>&1 && [ -f "$out/$name/merge_report.json" ]; then
    echo "ok      $name"
  else
    echo "FAILED  $name"; cat "$out/$name.log"; status=1
  fi
done
exit $status
