#!/usr/bin/env bash
# Install Dockyard and start a one-host cluster (manager + agent) in the
# foreground. Stop it with Ctrl-C; its state stays in the data dir it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec dockyard dev "$@"
