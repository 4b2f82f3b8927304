"""Repeat the SIGTERM drain tests (node and gateway) N times, optionally beside CPU burners, and count
passes: the check behind "the drain promise holds under load", too long for every `make test`.

    .venv/bin/python -m tests.drain_loop --runs 50 --burners 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback

from tests.integration.test_drain import (
    test_gateway_sigterm_lets_the_relayed_stream_finish_and_exits_zero,
    test_sigterm_lets_the_inflight_stream_finish_and_exits_zero,
)

CHECKS = {
    "node": test_sigterm_lets_the_inflight_stream_finish_and_exits_zero,
    "gateway": test_gateway_sigterm_lets_the_relayed_stream_finish_and_exits_zero,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--burners", type=int, default=0, help="busy-loop processes running meanwhile")
    parser.add_argument("--only", choices=sorted(CHECKS), help="run one of the checks only")
    args = parser.parse_args()
    burners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(args.burners)]
    passed = {name: 0 for name in CHECKS if args.only in (None, name)}
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            for name in passed:
                try:
                    CHECKS[name]()
                    passed[name] += 1
                except Exception:
                    print(f"run {run} {name}: FAILED\n{traceback.format_exc()}", flush=True)
            print(
                f"run {run}/{args.runs}: " + ", ".join(f"{k} {v}/{run}" for k, v in passed.items()),
                flush=True,
            )
    finally:
        for burner in burners:
            burner.kill()
    summary = ", ".join(f"{name} {count}/{args.runs}" for name, count in passed.items())
    print(f"{summary} passed with {args.burners} CPU burner(s) in {time.monotonic() - started:.0f}s")
    return 0 if all(count == args.runs for count in passed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
