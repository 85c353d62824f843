"""`python benchmarks/crypto_bench.py [options]` is `aurigraph bench crypto [options]`: the benchmark
lives in `aurigraph/bench/crypto.py`; this file is the path the benchmarks folder promises."""

import sys

from aurigraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "crypto", *sys.argv[1:]]))
