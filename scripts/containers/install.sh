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

missing=()
for pair in podman:podman runc:runc netavark:/usr/lib/podman/netavark aardvark-dns:/usr/lib/podman/aardvark-dns \
            iptables:iptables debootstrap:debootstrap; do
  package=${pair%%:*} probe=${pair#*:}
  if [[ $probe == /* ]]; then [ -x "$probe" ] || missing+=("$package")
  else command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ] || missing+=("$package"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

printf '\n==> installing Debian packages for the compose test: %s\n' "${missing[*]}" >&2
bash "$(dirname "${BASH_SOURCE[0]}")/../apt_install.sh" "${missing[@]}"
