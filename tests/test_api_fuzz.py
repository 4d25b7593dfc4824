"""Schemathesis against /openapi.json: generated requests, valid and not, never get a 5xx.

The schemathesis CLI fuzzes a live `openreel serve` (no workers: creates only
queue jobs, so every route's parsing and validation is exercised quickly).
A bounded number of examples per operation keeps CI fast.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from serving import Server

MAX_EXAMPLES = 40


def test_schemathesis_finds_no_server_error(tmp_path):
    srv = Server(tmp_path / "data", workers=0).start(wait_workers=False)
    try:
        exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        run = subprocess.run(
            [exe, "run", f"{srv.url}/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", str(MAX_EXAMPLES), "--header", f"Authorization: Bearer {srv.admin_key}", "--workers", "1", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert "passed" in run.stdout.lower()
    finally:
        srv.stop()
