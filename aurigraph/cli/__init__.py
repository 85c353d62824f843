"""The `aurigraph` command line. `main.py` wires the subcommands; one module per command group."""
