#!/usr/bin/env bash
# Install what the tests need, then run the whole suite with pytest: unit
# tests, multi-process integration tests and real-Docker tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PYTHON=${PYTHON:-python3}
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$@"
