"""The pure core imports no runtime or I/O library (ARCHITECTURE: layers and who may import whom).

Two checks: a static scan of every `import` in the core's source, and a runtime check that
importing the core in a fresh interpreter loads none of the forbidden modules, even transitively.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGES = ["aurigraph.crypto", "aurigraph.ledger", "aurigraph.consensus"]
# Runtime and I/O libraries, plus protobuf (the codec converts at the boundary) and our adapters.
FORBIDDEN = ["ray", "grpc", "fastapi", "starlette", "rocksdict", "asyncpg", "redis", "google.protobuf",
             "tensorflow", "aurigraph.v1", "aurigraph.codec", "aurigraph.keystore", "aurigraph.cli"]


def _core_files():
    for package in CORE_PACKAGES:
        folder = ROOT / package.replace(".", "/")
        if folder.is_dir():
            yield from sorted(folder.rglob("*.py"))


def _is_forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_core_source_has_no_forbidden_imports():
    files = list(_core_files())
    assert files, "no core source found"
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names if _is_forbidden(n)]
    assert not offenders, "\n".join(offenders)


def test_importing_the_core_loads_no_forbidden_module():
    packages = [p for p in CORE_PACKAGES if (ROOT / p.replace(".", "/")).is_dir()]
    code = (
        "import importlib, json, sys\n"
        f"for p in {packages!r}: importlib.import_module(p)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = [m for m in json.loads(out.stdout) if _is_forbidden(m)]
    assert not loaded, f"importing the core loaded: {loaded}"


def test_the_check_itself_catches_a_forbidden_import(tmp_path):
    """Guard against a check that cannot fail."""
    assert _is_forbidden("ray") and _is_forbidden("google.protobuf.message") and _is_forbidden("aurigraph.v1.block_pb2")
    assert not _is_forbidden("rayon") and not _is_forbidden("aurigraph.ledger")


def test_only_codecs_serve_apps_and_the_sdk_import_generated_code():
    # The SDK's transports are wire codecs by nature: they speak the generated messages and stubs.
    allowed = [ROOT / "aurigraph" / "codec", ROOT / "aurigraph" / "v1", ROOT / "serve_apps", ROOT / "aurigraph" / "client"]
    product = [p for folder in ("aurigraph", "actors", "models") for p in (ROOT / folder).rglob("*.py")]
    offenders = []
    for path in product:
        if any(path.is_relative_to(a) for a in allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names
                          if n == "aurigraph.v1" or n.startswith("aurigraph.v1.")]
    assert not offenders, "generated protobuf code imported outside the codecs: " + ", ".join(offenders)
