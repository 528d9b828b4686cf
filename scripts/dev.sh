#!/usr/bin/env bash
# Install Dockyard and start a one-host cluster (manager + agent) in the
# foreground. Stop it with Ctrl-C; its state stays in the data dir it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh
bash scripts/install.sh
exec "$PYTHON" -m dockyard.cli dev "$@"
