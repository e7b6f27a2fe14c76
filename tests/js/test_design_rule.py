"""The design form's script and the server read the one rule (APPLIES_WHEN) alike, for every design.

For each design, exposure mode and number of practice trials, node evaluates the script's `applies` on
the form's values (strings, as inputs give them) and must name the same fields as the server's
`field_applies`. Without Node.js this is skipped, except under CI=true (apt-get install nodejs).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from readerstudy.models.study import APPLIES_WHEN, Design, ExposureMode, field_applies

ROOT = Path(__file__).parent.parent.parent
SCRIPT = """
import { applies } from "./static/mirage/design_form.mjs";
const { rules, cases } = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map((values) =>
  Object.keys(rules).filter((name) => applies(rules[name], values)))));
"""


def test_the_script_and_the_server_hide_the_same_fields_for_every_design():
    executable = shutil.which("node") or shutil.which("nodejs")
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js is required under CI=true (apt-get install nodejs).")
        pytest.skip("NOTICE: no Node.js on this machine; the design form's rule check was skipped.")
    combos = list(itertools.product(Design.values, ExposureMode.values, [0, 1, 5]))
    cases = [{"design": d, "exposure_mode": e, "practice_trials": str(p)} for d, e, p in combos]
    result = subprocess.run([executable, "--input-type=module", "-e", SCRIPT,
                             json.dumps({"rules": APPLIES_WHEN, "cases": cases})],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    script = json.loads(result.stdout)
    for (d, e, p), shown in zip(combos, script):
        server = [name for name in APPLIES_WHEN
                  if field_applies(name, {"design": d, "exposure_mode": e, "practice_trials": p})]
        assert shown == server, (d, e, p)
    assert len(script) == len(combos) == 36
