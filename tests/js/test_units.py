"""The pages' ES modules (the reading screen's in static/mirage/reader/, and the coordinator pages') pass
their unit tests under `node --test`.

The tests are the *.test.mjs files next to this one: plain Node, fake timers and fetch written in them, no
npm packages. Without Node.js they are skipped, except under CI=true (apt-get install nodejs).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def test_the_reading_screen_modules_pass_their_node_unit_tests():
    executable = node()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js is required under CI=true for the reading screen's unit tests "
                        "(apt-get install nodejs).")
        pytest.skip("NOTICE: no Node.js on this machine; the reading screen's JS unit tests were skipped "
                    "(apt-get install nodejs).")
    files = sorted(str(path) for path in HERE.glob("*.test.mjs"))
    assert files, f"no *.test.mjs files in {HERE}"
    result = subprocess.run([executable, "--test", *files], capture_output=True, text=True, timeout=120,
                            cwd=HERE.parent.parent)
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
    assert "# fail 0" in result.stdout, result.stdout
