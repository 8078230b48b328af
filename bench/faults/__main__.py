"""``python -m bench.faults [--quick]``: the load and faults benchmark, printed as a table."""

from __future__ import annotations

import argparse

from bench.faults.phase import run
from bench.faults.table import print_table


def main() -> None:
    """``python -m bench.faults [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("--quick", action="store_true", help="a tenth of the load")
    args = parser.parse_args()
    print_table(run(quick=args.quick))


if __name__ == "__main__":
    main()
