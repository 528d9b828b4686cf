# Sourced by the other scripts: picks the Python that Dockyard is installed
# into and exports it as PYTHON.
# - $PYTHON if set;
# - otherwise python3, unless its distribution marks it "externally managed"
#   (PEP 668, e.g. Debian 12's /usr/bin/python3 refuses pip installs): then a
#   virtual environment in .venv, made on first use.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  if "$PYTHON" -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) and sys.prefix == sys.base_prefix else 1)'; then
    if [ ! -x .venv/bin/python ]; then
      "$PYTHON" -m venv .venv || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
    fi
    PYTHON=$PWD/.venv/bin/python
    echo "using the virtual environment .venv (this python3 is externally managed); its commands are in .venv/bin" >&2
  fi
fi
export PYTHON
