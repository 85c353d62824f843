"""Where and how benchmark results are written."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from aurigraph.node.config import usable_cpus

DEFAULT_RESULTS_DIR = Path("benchmarks/results")


def write_result(name: str, result: dict, out_dir: Path = DEFAULT_RESULTS_DIR) -> Path:
    """Write `result` with machine facts as `<out_dir>/<name>-<UTC timestamp>.json`; return the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "benchmark": name,
        "utc": stamp,
        "machine": {"python": platform.python_version(), "cpus": usable_cpus(), "platform": platform.platform()},
        **result,
    }
    path = out_dir / f"{name}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
