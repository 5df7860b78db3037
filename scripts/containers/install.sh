#!/usr/bin/env bash
# Install what the compose test (tests/compose/test_compose_up.py) needs to run containers here,
# from Debian's packages, only what is missing:
#   podman + runc     the engine and the runtime it is run with (crun, podman's default, fails on
#                     this kernel's cgroup layout; runc works)
#   netavark, aardvark-dns  the network backend podman 4.3 uses for compose's networks and
#                     container-name DNS, with iptables for its port forwarding
#   debootstrap       the Debian root the PostgreSQL, Redis and service images are made from
# Idempotent: seconds when all is there. Run by scripts/setup.sh.
set -euo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for pair in podman:podman runc:runc netavark:/usr/lib/podman/netavark aardvark-dns:/usr/lib/podman/aardvark-dns \
            iptables:iptables debootstrap:debootstrap; do
  package=${pair%%:*} probe=${pair#*:}
  if [[ $probe == /* ]]; then [ -x "$probe" ] || missing+=("$package")
  else command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ] || missing+=("$package"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

printf '\n==> installing Debian packages for the compose test: %s\n' "${missing[*]}" >&2
# Nothing of these runs as a system service here: Debian is told not to start any (a
# policy-rc.d that says no, removed again if it was ours).
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
trap '[ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
