#!/usr/bin/env bash
# Install Debian packages without starting their services (tests and the demo start private
# servers on random ports; nothing here runs as a system service): a policy-rc.d that says no
# while apt runs, removed again if it was ours.
#
#   bash scripts/apt_install.sh PACKAGE...
set -euo pipefail
[ $# -gt 0 ] || exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
trap '[ "$own_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
