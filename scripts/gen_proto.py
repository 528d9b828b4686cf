"""Regenerate dockyard/api/v1/ from proto/dockyard/v1/*.proto.

The .proto files live under the package path `dockyard/v1` (the wire
contract's name), while the generated Python lives in `dockyard.api.v1`; the
imports protoc writes are rewritten to match. `--check` compares instead of
writing and exits 1 when the committed code is stale (the test suite runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "dockyard" / "api" / "v1"
INIT = '"""Generated gRPC and protobuf code for the dockyard.v1 wire contract. Do not edit."""\n'


def generate() -> dict[str, str]:
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "dockyard" / "v1").glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}", *files]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out: dict[str, str] = {"__init__.py": INIT}
        for path in sorted((Path(tmp) / "dockyard" / "v1").iterdir()):
            text = path.read_text()
            text = re.sub(r"^from dockyard\.v1 import", "from dockyard.api.v1 import", text, flags=re.MULTILINE)
            out[path.name] = text
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args()
    wanted = generate()
    present = {p.name: p.read_text() for p in OUT_DIR.glob("*.py*")} if OUT_DIR.exists() else {}
    if args.check:
        stale = sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))
        if stale:
            print("stale generated code in dockyard/api/v1: " + ", ".join(stale) + "; run python scripts/gen_proto.py", file=sys.stderr)
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in present.keys() - wanted.keys():
        (OUT_DIR / name).unlink()
    for name, text in wanted.items():
        (OUT_DIR / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
