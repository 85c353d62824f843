"""Generate the Python code for `protos/aurigraph/v1/*.proto` into `aurigraph/v1/`.

Run it with `make protos` (or `python protos/generate.py`). The generated modules are checked
in and never edited by hand; `tests/unit/codec/test_generated_code.py` regenerates them into a
temporary folder and fails when the checked-in copy differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_FILES = sorted((PROTO_ROOT / "aurigraph" / "v1").glob("*.proto"))
PACKAGE_DOC = '"""Generated from protos/aurigraph/v1 by `make protos`. Do not edit."""\n'


def generate(out_root: Path) -> list[Path]:
    """Write the generated package `aurigraph/v1` under `out_root`; return the files written."""
    import grpc_tools
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(p) for p in PROTO_FILES),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + ", ".join(p.name for p in PROTO_FILES))
    package = out_root / "aurigraph" / "v1"
    (package / "__init__.py").write_text(PACKAGE_DOC)
    return sorted(package.glob("*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROTO_ROOT.parent, help="root to write aurigraph/v1 into")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path.relative_to(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
