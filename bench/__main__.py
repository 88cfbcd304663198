"""python -m bench [--only GROUP]"""

from __future__ import annotations

import argparse
import importlib
import sys

# group -> the modules whose lines it prints
GROUPS = {"node": ["node", "battery"], "radio": ["radio"], "lora": ["radio", "lora"],
          "waste": ["waste", "routing", "streets", "replan"], "lighting": ["lighting"],
          "ingest": ["ingest"], "sim": ["sim"], "web": ["web"], "api": ["api"],
          "ngsi": ["ngsi"], "ngsi-mqtt": ["ngsi_mqtt"]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--only", choices=GROUPS, help="run one group")
    args = parser.parse_args()
    for group in [args.only] if args.only else GROUPS:
        for name in GROUPS[group]:
            for result in importlib.import_module(f"bench.{name}").run():
                print(result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
