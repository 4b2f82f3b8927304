"""The short soak runs beside the rest of the suite rather than before or after it: `make test` starts
`edgecloud bench soak` when the session's tests are collected and the soak test, near the end, reads
what it found. A soak is minutes of steady, light load on a gateway and two nodes; it does not need the
machine to itself, and its checks (nothing lost, no growth of RSS or open files) do not depend on the
machine's speed. Run alone (`pytest tests/integration/test_soak.py`), the test starts it itself."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

MINUTES = float(os.environ.get("EDGECLOUD_SOAK_TEST_MINUTES", "3"))
TEST_ID = "tests/integration/test_soak.py::test_a_short_soak_loses_nothing_and_grows_nothing"
KEY = pytest.StashKey["BackgroundSoak"]()


@dataclass
class BackgroundSoak:
    process: subprocess.Popen[str]
    out: Path
    log: Path

    @classmethod
    def start(cls) -> BackgroundSoak:
        out = Path(tempfile.mkdtemp(prefix="edgecloud-soak-"))
        command = [sys.executable, "-m", "edgecloud", "bench", "soak", "--minutes", str(MINUTES)]
        command += ["--sample-every", "15", "--warm-up", "45", "--out", str(out)]
        log = out / "soak.log"
        with log.open("w") as handle:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, text=True)
        return cls(process, out, log)

    def wait(self) -> tuple[int, str]:
        """The exit status and the tail of the output, once the soak is over."""
        try:
            code = self.process.wait(timeout=MINUTES * 60 + 600)
        except subprocess.TimeoutExpired:
            self.stop()
            code = -1
        return code, self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
