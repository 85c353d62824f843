"""`python benchmarks/sync_bench.py [options]` is `aurigraph bench sync [options]`: the benchmark
lives in `aurigraph/bench/sync.py`; this file is the path the benchmarks folder promises."""

import sys

from aurigraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "sync", *sys.argv[1:]]))
