"""`python benchmarks/consensus_bench.py [options]` is `aurigraph bench consensus [options]`: the benchmark
lives in `aurigraph/bench/consensus.py`; this file is the path the benchmarks folder promises."""

import sys

from aurigraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "consensus", *sys.argv[1:]]))
