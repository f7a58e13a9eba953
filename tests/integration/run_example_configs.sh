#!/usr/bin/env bash
# Every job in configs/ runs as shipped, from a fresh clone's layout: the
# configs and merged/ (where they write) are copied into a temporary folder
# beside a link to tests/ (the fixtures they read), so nothing is written into the source tree and a
# config whose output folder a clone lacks fails here as it would for a user.
#   run_example_configs.sh COCKTAIL_DIST MPIEXEC SOURCE_DIR
set -euo pipefail
dist=$1 mpiexec=$2 src=$3
clone=$(mktemp -d /tmp/cocktail-configs-XXXXXX)
trap 'rm -rf "$clone"' EXIT
cp -r "$src/configs" "$clone/configs"
ln -s "$src/tests" "$clone/tests"
mkdir "$clone/merged" "$clone/logs"
cp "$src/merged/.gitignore" "$clone/merged/"  # what a clone has of merged/
logs=$clone/logs
status=0
for config in "$clone"/configs/*.yaml; do
  name=$(basename "$config" .yaml)
  out=$(sed -n 's/^output: *//p' "$config")
  if "$mpiexec" --allow-run-as-root --oversubscribe -n 2 "$dist" "$config" >"$logs/$name.log" 2>&1 &&
      [ -f "$clone/configs/$out/merge_report.json" ]; then
    echo "ok      $name"
  else
    echo "FAILED  $name"; cat "$logs/$name.log"; status=1
  fi
done
exit $status
