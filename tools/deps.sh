#!/bin/sh
# deps.sh FILE:PACKAGE... -- installs (apt-get) the Debian packages whose
# marker file is missing; does nothing, quietly, when all are present.
set -eu
missing=""
for entry in "$@"; do
  file=${entry%%:*}
  pkg=${entry#*:}
  [ -e "$file" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
