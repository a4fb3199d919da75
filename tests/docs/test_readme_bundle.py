"""README's figure for the board bundle is what `make firmware` builds today."""
from __future__ import annotations

import re
import subprocess
import sys

from evharness.procs import ROOT

TOLERANCE_KB = 0.5  # a small firmware change may pass; a stale figure may not


def test_readme_bundle_size_matches_the_build(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_firmware.py"), "--out",
                           str(tmp_path / "fw")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    built = float(re.search(r"total\s+\d+ bytes \(([\d.]+) KB\)", done.stdout)[1])
    readme = (ROOT / "README.md").read_text()
    row = re.search(r"^\| Engine firmware bundle .*?\| ([\d.]+) KB", readme, re.MULTILINE)
    quick = re.search(r"^make firmware .*\(([\d.]+) KB\)", readme, re.MULTILINE)
    assert row and quick, "README no longer states the bundle size where this test looks"
    for stated in (float(row[1]), float(quick[1])):
        assert abs(stated - built) <= TOLERANCE_KB, (
            f"README says {stated} KB, `make firmware` builds {built} KB: update README.md")
