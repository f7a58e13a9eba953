#!/usr/bin/env bash
# Installs the Debian packages given that are not installed yet; runs apt only
# when something is missing, so reruns cost nothing.
#   launch/apt_install.sh LABEL PACKAGE...     # LABEL prefixes what it prints
set -euo pipefail
label="$1"
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "$label: all packages present"
  exit 0
fi
echo "$label: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
