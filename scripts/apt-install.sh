#!/usr/bin/env bash
# Installs Debian packages for the build and test scripts: waits (up to 10 minutes, saying so) when
# another apt or dpkg holds the lock instead of failing at once, and fails with one clear line.
# Usage: scripts/apt-install.sh [--no-install-recommends] package...
set -euo pipefail
if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
WAIT=(-o DPkg::Lock::Timeout=600)
holder() {
  # Who holds the dpkg lock, if anyone (fuser is not always installed; /proc is).
  for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
    for fd in /proc/[0-9]*/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "$lock" ] && { ps -o pid=,comm= -p "$(echo "$fd" | cut -d/ -f3)"; return; }
    done
  done 2>/dev/null
}
who=$(holder || true)
[ -n "$who" ] && echo "apt: the dpkg lock is held by ${who# }; waiting up to 10 minutes for it"
echo "apt: installing ${*/--no-install-recommends/}"
"${SUDO[@]}" apt-get "${WAIT[@]}" update -qq \
  && "${SUDO[@]}" apt-get "${WAIT[@]}" install -y -qq "$@" \
  || { echo "error: could not install $* (apt-get failed; see above)" >&2; exit 1; }
