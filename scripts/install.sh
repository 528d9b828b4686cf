#!/usr/bin/env bash
# Installs everything Dockyard and its tests need on a Debian/Ubuntu host with
# Docker: Debian packages (busybox-static for the offline test image, iproute2
# and iptables for network tests), Dockyard itself with its test extras, and
# the local test image dockyard-test/busybox:1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh

need_apt=()
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v iptables >/dev/null || need_apt+=(iptables)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[test]'
bash scripts/build-test-image.sh
