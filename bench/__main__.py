"""python -m bench [--only GROUP]"""

from __future__ import annotations

import argparse
import importlib
import sys

GROUPS = ["node", "radio", "waste", "ingest", "sim"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--only", choices=GROUPS, help="run one group")
    args = parser.parse_args()
    for group in [args.only] if args.only else GROUPS:
        module = importlib.import_module(f"bench.{group}")
        for result in module.run():
            print(result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
