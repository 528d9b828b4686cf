#!/usr/bin/env bash
# Install what the tests need, then run the whole suite with pytest: unit
# tests, multi-process integration tests and real-Docker tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh
bash scripts/install.sh
exec "$PYTHON" -m pytest -q -p no:cacheprovider "$@"
