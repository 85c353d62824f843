"""`python benchmarks/index_bench.py [options]` is `aurigraph bench index [options]`: the benchmark
lives in `aurigraph/bench/index.py`; this file is the path the benchmarks folder promises."""

import sys

from aurigraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "index", *sys.argv[1:]]))
