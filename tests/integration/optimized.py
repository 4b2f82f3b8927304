"""What the optimizer's integration tests share: the real CLI in a subprocess, each folder built once per
module, and one node serving all of a module's folders."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from edgecloud.serving.launcher import NodeProcess

SMALL = ["--sentences", "16", "--repeats", "1"]


def optimize(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgecloud", "optimize", *args], capture_output=True, text=True, timeout=900
    )


def built(root: Path, name: str, command: Sequence[str]) -> Path:
    """Runs `edgecloud optimize COMMAND --out ROOT/NAME` unless its report is there (each test pays for
    at most one run)."""
    folder = root / name
    if not (folder / "report.json").is_file():
        done = optimize(*command, "--out", str(folder))
        assert done.returncode == 0, done.stderr[-3000:]
    return folder


def serving(folders: dict[str, Path]) -> Iterator[NodeProcess]:
    """A node with every folder loaded, for a module-scoped fixture to yield from."""
    with NodeProcess([str(path) for path in folders.values()]) as process:
        process.wait_ready(timeout=300)
        yield process
